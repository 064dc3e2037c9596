#!/usr/bin/env node
// Checks a CloudFormation template against the official resource
// specification (npm @aws-cdk/cfnspec, spec/specification.json): resource
// types, property names and types, required properties, GetAtt attributes,
// and that every Ref, GetAtt, Sub variable, Condition and DependsOn names
// something that exists, without a dependency cycle.
//
// usage: node validate.js TEMPLATE...   (exit 0 when every one is valid)
//
// Spec format: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cfn-resource-specification-format.html
// Intrinsics:  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html
'use strict';

const fs = require('fs');
const path = require('path');
const YAML = require('yaml');

const SPEC_FILE = path.join(__dirname, 'node_modules', '@aws-cdk', 'cfnspec',
	'spec', 'specification.json');

// The short forms: !Ref X is {"Ref": X}, !GetAtt A.B is
// {"Fn::GetAtt": ["A", "B"]}, every other !F is {"Fn::F": ...}.
const INTRINSICS = ['Ref', 'GetAtt', 'Sub', 'If', 'Equals', 'Not', 'And', 'Or',
	'Join', 'Select', 'Split', 'FindInMap', 'Base64', 'GetAZs', 'ImportValue',
	'Cidr', 'Condition'];

function longName(name) {
	return name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`;
}

function customTags() {
	const tags = [];
	for (const name of INTRINSICS) {
		const wrap = (value) => {
			if (name === 'GetAtt' && typeof value === 'string') {
				const dot = value.indexOf('.');
				value = [value.slice(0, dot), value.slice(dot + 1)];
			}
			return { [longName(name)]: value };
		};
		for (const collection of [undefined, 'seq', 'map']) {
			const tag = { tag: `!${name}`, resolve: (v) => wrap(v.toJSON ? v.toJSON() : v) };
			if (collection)
				tag.collection = collection;
			tags.push(tag);
		}
	}
	return tags;
}

function parseTemplate(text) {
	const doc = YAML.parseDocument(text, { customTags: customTags(), uniqueKeys: true });
	if (doc.errors.length)
		throw new Error(doc.errors.map((e) => e.message).join('; '));
	return doc.toJS();
}

const PSEUDO = new Set(['AWS::AccountId', 'AWS::NotificationARNs', 'AWS::NoValue',
	'AWS::Partition', 'AWS::Region', 'AWS::StackId', 'AWS::StackName', 'AWS::URLSuffix']);
const TOP_LEVEL = new Set(['AWSTemplateFormatVersion', 'Description', 'Metadata', 'Parameters',
	'Rules', 'Mappings', 'Conditions', 'Transform', 'Resources', 'Outputs']);
const RESOURCE_KEYS = new Set(['Type', 'Properties', 'DependsOn', 'Condition', 'DeletionPolicy',
	'UpdateReplacePolicy', 'Metadata', 'CreationPolicy', 'UpdatePolicy']);
const POLICIES = new Set(['Delete', 'Retain', 'Snapshot', 'RetainExceptOnCreate']);
const PARAMETER_TYPES = /^(String|Number|List<Number>|CommaDelimitedList|AWS::[A-Za-z0-9:]+(<.*>)?|List<AWS::.*>)$/;
const PARAMETER_KEYS = new Set(['Type', 'Default', 'Description', 'AllowedValues', 'AllowedPattern',
	'ConstraintDescription', 'MaxLength', 'MinLength', 'MaxValue', 'MinValue', 'NoEcho']);

function intrinsicOf(value) {
	if (value === null || typeof value !== 'object' || Array.isArray(value))
		return null;
	const keys = Object.keys(value);
	if (keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::') || keys[0] === 'Condition'))
		return keys[0];
	return null;
}

class Checker {
	constructor(spec, template) {
		this.spec = spec;
		this.t = template;
		this.errors = [];
		this.resources = template.Resources || {};
		this.parameters = template.Parameters || {};
		this.conditions = template.Conditions || {};
		this.deps = {};
	}

	error(where, message) {
		this.errors.push(`${where}: ${message}`);
	}

	run() {
		for (const key of Object.keys(this.t))
			if (!TOP_LEVEL.has(key))
				this.error('template', `unknown top-level section ${key}`);
		if (!this.t.Resources || !Object.keys(this.t.Resources).length)
			this.error('template', 'Resources must name at least one resource');
		for (const [name, p] of Object.entries(this.parameters))
			this.checkParameter(name, p);
		for (const [name, c] of Object.entries(this.conditions))
			this.checkValue(`Conditions.${name}`, c, null, { condition: true });
		for (const [name, r] of Object.entries(this.resources))
			this.checkResource(name, r);
		for (const [name, o] of Object.entries(this.t.Outputs || {})) {
			if (o.Condition !== undefined && !(o.Condition in this.conditions))
				this.error(`Outputs.${name}`, `unknown condition ${o.Condition}`);
			if (o.Value === undefined)
				this.error(`Outputs.${name}`, 'Value is required');
			this.checkValue(`Outputs.${name}.Value`, o.Value, null, {});
		}
		this.checkCycles();
		return this.errors;
	}

	checkParameter(name, p) {
		const where = `Parameters.${name}`;
		if (!p || typeof p !== 'object')
			return this.error(where, 'must be a mapping');
		for (const key of Object.keys(p))
			if (!PARAMETER_KEYS.has(key))
				this.error(where, `unknown attribute ${key}`);
		if (!PARAMETER_TYPES.test(String(p.Type)))
			this.error(where, `unknown parameter type ${p.Type}`);
		if (p.Default !== undefined && p.AllowedValues &&
		    !p.AllowedValues.map(String).includes(String(p.Default)))
			this.error(where, `Default ${p.Default} is not one of AllowedValues`);
		if (p.Type === 'Number' && p.Default !== undefined && Number.isNaN(Number(p.Default)))
			this.error(where, `Default ${p.Default} is not a number`);
	}

	checkResource(name, r) {
		const where = `Resources.${name}`;
		this.deps[name] = new Set();
		if (!r || typeof r !== 'object')
			return this.error(where, 'must be a mapping');
		for (const key of Object.keys(r))
			if (!RESOURCE_KEYS.has(key))
				this.error(where, `unknown resource attribute ${key}`);
		for (const key of ['DeletionPolicy', 'UpdateReplacePolicy'])
			if (r[key] !== undefined && !POLICIES.has(r[key]))
				this.error(where, `${key} ${r[key]} is not one of ${[...POLICIES].join(', ')}`);
		if (r.Condition !== undefined && !(r.Condition in this.conditions))
			this.error(where, `unknown condition ${r.Condition}`);
		for (const dep of [].concat(r.DependsOn || [])) {
			if (!(dep in this.resources))
				this.error(where, `DependsOn names no resource: ${dep}`);
			this.deps[name].add(dep);
		}
		const type = this.spec.ResourceTypes[r.Type];
		if (!type)
			return this.error(where, `unknown resource type ${r.Type}`);
		this.checkProperties(where, r.Properties || {}, type.Properties || {}, r.Type, name);
	}

	// Properties of a resource or of a property type, against its spec.
	checkProperties(where, props, specProps, typeName, owner) {
		if (intrinsicOf(props))
			return this.checkValue(where, props, { structure: typeName, specProps }, { owner });
		if (props === null || typeof props !== 'object' || Array.isArray(props))
			return this.error(where, `must be a mapping (${typeName})`);
		for (const [key, value] of Object.entries(props)) {
			if (!(key in specProps)) {
				this.error(where, `unknown property ${key} of ${typeName}`);
				continue;
			}
			this.checkValue(`${where}.${key}`, value, this.expected(specProps[key], typeName), { owner });
		}
		for (const [key, s] of Object.entries(specProps))
			if (s.Required && !(key in props))
				this.error(where, `required property ${key} of ${typeName} is missing`);
	}

	// What a property's spec says its value is.
	expected(s, ownerType) {
		const prefix = ownerType.includes('.') ? ownerType.split('.')[0] : ownerType;
		const propertyType = (name) => {
			if (name === 'Tag')
				return 'Tag';
			return `${prefix}.${name}`;
		};
		if (s.PrimitiveType)
			return { primitive: s.PrimitiveType };
		if (s.Type === 'List' || s.Type === 'Map') {
			const item = s.PrimitiveItemType ? { primitive: s.PrimitiveItemType }
				: s.ItemType ? { structure: propertyType(s.ItemType) } : { any: true };
			return { [s.Type === 'List' ? 'list' : 'map']: item };
		}
		if (s.Type)
			return { structure: propertyType(s.Type) };
		return { any: true }; // PrimitiveTypes / Types unions
	}

	checkValue(where, value, expected, ctx) {
		const fn = intrinsicOf(value);
		if (fn)
			return this.checkIntrinsic(where, fn, value[fn], expected, ctx);
		if (!expected || expected.any) {
			if (Array.isArray(value))
				value.forEach((v, i) => this.checkValue(`${where}[${i}]`, v, null, ctx));
			else if (value && typeof value === 'object')
				for (const [k, v] of Object.entries(value))
					this.checkValue(`${where}.${k}`, v, null, ctx);
			return;
		}
		if (expected.primitive)
			return this.checkPrimitive(where, value, expected.primitive, ctx);
		if (expected.list) {
			if (!Array.isArray(value))
				return this.error(where, 'must be a list');
			return value.forEach((v, i) => this.checkValue(`${where}[${i}]`, v, expected.list, ctx));
		}
		if (expected.map) {
			if (!value || typeof value !== 'object' || Array.isArray(value))
				return this.error(where, 'must be a mapping');
			return Object.entries(value).forEach(([k, v]) =>
				this.checkValue(`${where}.${k}`, v, expected.map, ctx));
		}
		const type = expected.structure === 'Tag' ? this.spec.PropertyTypes.Tag
			: this.spec.PropertyTypes[expected.structure];
		if (!type)
			return this.error(where, `the specification lacks ${expected.structure}`);
		if (!type.Properties)
			return this.checkValue(where, value, this.expected(type, expected.structure), ctx);
		this.checkProperties(where, value, type.Properties, expected.structure, ctx.owner);
	}

	checkPrimitive(where, value, primitive, ctx) {
		if (primitive === 'Json') {
			if (!value || typeof value !== 'object')
				return this.error(where, 'must be a JSON object');
			return this.checkValue(where, value, null, ctx);
		}
		const ok = {
			String: () => ['string', 'number', 'boolean'].includes(typeof value),
			Integer: () => Number.isInteger(Number(value)) && value !== '' && typeof value !== 'boolean',
			Long: () => Number.isInteger(Number(value)) && value !== '' && typeof value !== 'boolean',
			Double: () => !Number.isNaN(Number(value)) && value !== '' && typeof value !== 'boolean',
			Boolean: () => typeof value === 'boolean' || value === 'true' || value === 'false',
			Timestamp: () => typeof value === 'string' && !Number.isNaN(Date.parse(value)),
		}[primitive];
		if (ok && !ok())
			this.error(where, `${JSON.stringify(value)} is not a ${primitive}`);
	}

	dependOn(ctx, name) {
		if (ctx.owner && name in this.resources)
			this.deps[ctx.owner].add(name);
	}

	checkRef(where, target, ctx) {
		if (typeof target !== 'string')
			return this.error(where, 'Ref takes a name');
		if (ctx.condition && target in this.resources)
			return this.error(where, `a condition cannot Ref resource ${target}`);
		if (!(target in this.parameters) && !(target in this.resources) && !PSEUDO.has(target))
			return this.error(where, `Ref to unknown ${target}`);
		this.dependOn(ctx, target);
	}

	checkGetAtt(where, resource, attribute, ctx) {
		const r = this.resources[resource];
		if (!r)
			return this.error(where, `GetAtt of unknown resource ${resource}`);
		if (ctx.condition)
			return this.error(where, 'a condition cannot use GetAtt');
		const type = this.spec.ResourceTypes[r.Type];
		if (type && !(attribute in (type.Attributes || {})))
			this.error(where, `${r.Type} has no attribute ${attribute} (it has: ` +
				`${Object.keys(type.Attributes || {}).join(', ') || 'none'})`);
		this.dependOn(ctx, resource);
	}

	checkIntrinsic(where, fn, args, expected, ctx) {
		const here = `${where}.${fn}`;
		switch (fn) {
		case 'Ref':
			return this.checkRef(here, args, ctx);
		case 'Fn::GetAtt':
			if (!Array.isArray(args) || args.length !== 2)
				return this.error(here, 'takes [Resource, Attribute]');
			return this.checkGetAtt(here, args[0], args[1], ctx);
		case 'Fn::Sub': {
			const [text, vars] = Array.isArray(args) ? args : [args, {}];
			if (typeof text !== 'string')
				return this.error(here, 'takes a string');
			for (const [k, v] of Object.entries(vars || {}))
				this.checkValue(`${here}.${k}`, v, null, ctx);
			for (const m of text.matchAll(/\$\{([^!}][^}]*)\}/g)) {
				const name = m[1].trim();
				if (vars && name in vars)
					continue;
				const dot = name.indexOf('.');
				if (dot > 0 && !PSEUDO.has(name))
					this.checkGetAtt(here, name.slice(0, dot), name.slice(dot + 1), ctx);
				else
					this.checkRef(here, name, ctx);
			}
			return;
		}
		case 'Fn::If':
			if (!Array.isArray(args) || args.length !== 3)
				return this.error(here, 'takes [Condition, ValueIfTrue, ValueIfFalse]');
			if (!(args[0] in this.conditions))
				this.error(here, `unknown condition ${args[0]}`);
			this.checkValue(`${here}[1]`, args[1], expected, ctx);
			return this.checkValue(`${here}[2]`, args[2], expected, ctx);
		case 'Condition':
			if (!(args in this.conditions))
				this.error(here, `unknown condition ${args}`);
			return;
		case 'Fn::Equals':
			if (!Array.isArray(args) || args.length !== 2)
				return this.error(here, 'takes two values');
			return args.forEach((a, i) => this.checkValue(`${here}[${i}]`, a, null, ctx));
		case 'Fn::Not':
		case 'Fn::And':
		case 'Fn::Or':
			if (!Array.isArray(args) || (fn === 'Fn::Not' ? args.length !== 1 : args.length < 2))
				return this.error(here, 'takes a list of conditions');
			return args.forEach((a, i) => this.checkValue(`${here}[${i}]`, a, null, ctx));
		default:
			if (!fn.startsWith('Fn::') || !INTRINSICS.includes(fn.slice(4)))
				return this.error(here, `unknown intrinsic function ${fn}`);
			return this.checkValue(here, args, null, ctx);
		}
	}

	checkCycles() {
		const state = {};
		const visit = (name, trail) => {
			if (state[name] === 'done')
				return;
			if (state[name] === 'active')
				return this.error('Resources', `circular dependency: ${[...trail, name].join(' -> ')}`);
			state[name] = 'active';
			for (const dep of this.deps[name] || [])
				visit(dep, [...trail, name]);
			state[name] = 'done';
		};
		for (const name of Object.keys(this.deps))
			visit(name, []);
	}
}

function validate(text, spec) {
	let template;
	try {
		template = parseTemplate(text);
	} catch (e) {
		return [`template: not valid YAML: ${e.message}`];
	}
	if (!template || typeof template !== 'object')
		return ['template: not a mapping'];
	return new Checker(spec, template).run();
}

function loadSpec() {
	return JSON.parse(fs.readFileSync(SPEC_FILE, 'utf8'));
}

module.exports = { validate, loadSpec, parseTemplate };

if (require.main === module) {
	const files = process.argv.slice(2);
	if (!files.length) {
		process.stderr.write('usage: node validate.js TEMPLATE...\n');
		process.exit(2);
	}
	const spec = loadSpec();
	let bad = 0;
	for (const file of files) {
		const errors = validate(fs.readFileSync(file, 'utf8'), spec);
		for (const e of errors)
			process.stderr.write(`${file}: ${e}\n`);
		if (errors.length)
			bad++;
		else
			process.stdout.write(`${file}: valid against the CloudFormation resource ` +
				`specification ${spec.ResourceSpecificationVersion}\n`);
	}
	process.exit(bad ? 1 : 0);
}
