// The validator refuses what CloudFormation refuses, and accepts our
// template. Run: node --test test/cfnspec/
'use strict';

const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const test = require('node:test');
const { validate, loadSpec } = require('./validate.js');

const spec = loadSpec();
const TEMPLATE = fs.readFileSync(path.join(__dirname, '..', '..', 'template.yaml'), 'utf8');

function template(resources, extra = '') {
	return `Resources:\n${resources}\n${extra}`;
}

test('template.yaml is valid', () => {
	assert.deepStrictEqual(validate(TEMPLATE, spec), []);
});

// One case a line: the template's Resources, what the error must say.
const cases = [
	['unknown type', '  Q:\n    Type: AWS::SQS::Queueue', /unknown resource type AWS::SQS::Queueue/],
	['unknown property', '  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      Retention: 5',
		/unknown property Retention of AWS::SQS::Queue/],
	['missing required', '  P:\n    Type: AWS::SSM::Parameter\n    Properties:\n      Type: String',
		/required property Value of AWS::SSM::Parameter is missing/],
	['unknown attribute', '  Q:\n    Type: AWS::SQS::Queue\n  P:\n    Type: AWS::SSM::Parameter\n' +
		'    Properties:\n      Type: String\n      Value: !GetAtt Q.Url', /AWS::SQS::Queue has no attribute Url/],
	['nested property', '  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      VersioningConfiguration:\n' +
		'        State: Enabled', /unknown property State of AWS::S3::Bucket.VersioningConfiguration/],
	['wrong primitive', '  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      VisibilityTimeout: long',
		/"long" is not a Integer/],
	['not a list', '  F:\n    Type: AWS::SQS::QueuePolicy\n    Properties:\n      PolicyDocument: {}\n' +
		'      Queues: one', /must be a list/],
	['Ref to nothing', '  P:\n    Type: AWS::SSM::Parameter\n    Properties:\n      Type: String\n' +
		'      Value: !Ref Nothing', /Ref to unknown Nothing/],
	['Sub of nothing', '  P:\n    Type: AWS::SSM::Parameter\n    Properties:\n      Type: String\n' +
		'      Value: !Sub "${Nothing}-x"', /Ref to unknown Nothing/],
	['unknown condition', '  Q:\n    Type: AWS::SQS::Queue\n    Condition: Never', /unknown condition Never/],
	['cycle', '  A:\n    Type: AWS::SQS::Queue\n    DependsOn: B\n  B:\n    Type: AWS::SQS::Queue\n    DependsOn: A',
		/circular dependency/],
	['If branches checked', '  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      DelaySeconds: !If [C, 1, x]',
		/"x" is not a Integer/, 'Conditions:\n  C: !Equals [a, a]'],
	['unknown resource attribute', '  Q:\n    Type: AWS::SQS::Queue\n    Deletion: Retain',
		/unknown resource attribute Deletion/],
];

for (const [name, resources, expected, extra] of cases) {
	test(`refuses: ${name}`, () => {
		const errors = validate(template(resources, extra), spec);
		assert.ok(errors.some((e) => expected.test(e)), `${expected} not in ${JSON.stringify(errors)}`);
	});
}
