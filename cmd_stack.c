/* stack (ssmbak-stack): deploy and inspect the ssmbak CloudFormation stack.
 * Data path of create and update: this binary (/proc/self/exe) -> is it a
 * Lambda binary (static ELF, x86_64 or aarch64) -> zip as bootstrap ->
 * deployment bucket, key by content hash -> CreateStack/UpdateStack with
 * the embedded template.yaml -> events until the stack settles -> the
 * format marker -> a summary.
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/sha.h>

#include "commands.h"
#include "lib/cfn.h"
#include "lib/cli.h"
#include "lib/escape.h"
#include "lib/exitcode.h"
#include "lib/jsonout.h"
#include "lib/org.h"
#include "lib/record.h"
#include "lib/s3.h"
#include "lib/sqs.h"
#include "lib/sts.h"
#include "lib/timefmt.h"
#include "lib/util.h"
#include "lib/zip.h"

static const char usage[] =
	"usage: ssmbak stack NAME COMMAND [-p KEY=VALUE]... [--tags KEY=VALUE]...\n"
	"                    [--code-bucket BUCKET] [--role-arn ARN] [--yes]\n"
	"                    [--org-units OU,... --regions REGION,...]\n"
	"                    [--delete-bucket [--force]] [--output table|json]\n"
	"                    [-r REGION] [--profile NAME] [-v | -q]\n"
	"       ssmbak stack template\n"
	"       ssmbak-stack NAME COMMAND [OPTIONS]\n"
	"\n"
	"Deploy the ssmbak backup pipeline (CloudFormation stack NAME) with this\n"
	"binary as its Lambda, or show what it is.\n"
	"\n"
	"Commands:\n"
	"  create       upload this binary, create the stack and wait for it; with\n"
	"               --org-units, a StackSet for every account of those OUs\n"
	"  diff         what update would change (a change set, then deleted)\n"
	"  update       show that change set, ask, deploy it and wait\n"
	"  delete       delete the stack; the bucket stays unless --delete-bucket\n"
	"  status       the stack's status\n"
	"  events       the stack's events, oldest first\n"
	"  outputs      the stack's outputs\n"
	"  bucketname   the backup bucket's name\n"
	"  lambdaname   the backup Lambda's name\n"
	"  region       the stack's region\n"
	"  template     print the CloudFormation template (no NAME)\n"
	"\n"
	"  -p, --parameters KEY=VALUE  a template parameter (repeat for more):\n"
	"                       RetentionDays, ObjectLockDays, KmsKeyArn, LogLevel,\n"
	"                       LogRetentionDays, AlarmTopicArn, LegacyParameters,\n"
	"                       Encryption, WriterPrincipalArns (default on create:\n"
	"                       you), ExistingBucket, ReplicaBucketArn, MemorySize,\n"
	"                       ... (see 'ssmbak stack template')\n"
	"      --tags KEY=VALUE  a tag for the stack and its resources (repeat)\n"
	"      --code-bucket BUCKET  where the Lambda's zip goes (default:\n"
	"                       ssmbak-deploy-ACCOUNT-REGION, created if missing)\n"
	"      --role-arn ARN   the IAM role CloudFormation acts as (create, diff,\n"
	"                       update); the stack keeps using it\n"
	"      --yes            update: deploy without asking (for scripts)\n"
	"      --org-units OU,...  create: deploy to every account of these\n"
	"                       organizational units (a StackSet, new accounts too)\n"
	"      --regions REGION,...  with --org-units: the regions to deploy to\n"
	"      --delete-bucket  delete: also delete the backup bucket; refused while\n"
	"                       it holds backups\n"
	"      --force          with --delete-bucket: delete the backups too\n"
	"      --output FORMAT  status, events, outputs: table (default) or json\n"
	"  -r, --region REGION  AWS region (default: AWS_REGION, the profile's)\n"
	"      --profile NAME   AWS profile from ~/.aws/config\n"
	"      --bucket-owner ACCOUNT  refuse buckets of another account (default:\n"
	"                       SSMBAK_BUCKET_OWNER, else your own account)\n"
	"  -v, --verbose        say more on stderr (-vv: every request)\n"
	"  -q, --quiet          print only results and errors (no warnings, no\n"
	"                       progress)\n"
	"  -h, --help           show this help\n"
	"\n"
	"Exit status: 0 ok, 1 the stack failed or rolled back (or an AWS call\n"
	"failed, or update was declined), 2 usage error, a binary Lambda cannot\n"
	"run, or update without --yes where it cannot ask, 3 configuration error.\n";

/* Printed before the template by `ssmbak stack template`. */
static const char template_header[] =
	"# The CloudFormation template of ssmbak, as 'ssmbak stack NAME create'\n"
	"# deploys it. To deploy it another way (the console, StackSets,\n"
	"# Terraform's aws_cloudformation_stack): zip the static ssmbak binary as an\n"
	"# executable file named bootstrap, upload it to S3 in the stack's region,\n"
	"# and give CodeBucket and CodeKey (and Architecture for arm64). Every other\n"
	"# parameter has a default; each is described under Parameters. The stack\n"
	"# names IAM roles: it needs CAPABILITY_NAMED_IAM.\n";

/* Seconds between two looks at a stack that is still moving. */
#define POLL_SECONDS 2
/* Template parameters ssmbak sets itself, from the binary it deploys. */
static const char *const own_parameters[] = { "CodeBucket", "CodeKey",
					      "Architecture" };

/* lib/template.S */
extern const char ssmbak_template_start[];
extern const char ssmbak_template_end[];

enum action {
	ACT_CREATE, ACT_DIFF, ACT_UPDATE, ACT_DELETE, ACT_STATUS, ACT_EVENTS,
	ACT_OUTPUTS, ACT_BUCKETNAME, ACT_LAMBDANAME, ACT_REGION, ACT_TEMPLATE,
};

static const char *const action_names[] = {
	"create", "diff", "update", "delete", "status", "events", "outputs",
	"bucketname", "lambdaname", "region", "template",
};

/* --org-units ou-a,ou-b: the items, split at commas. */
struct name_list {
	char **items;
	size_t n;
};

static void name_list_release(struct name_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

struct stack_opts {
	struct cli_common common;
	const char *name;
	enum action action;
	struct cfn_pairs parameters;
	struct cfn_pairs tags;
	bool have_tags;
	const char *code_bucket;
	const char *role_arn;
	bool yes;
	struct name_list org_units;
	struct name_list regions;
	bool delete_bucket;
	bool force;
};

struct stack_run {
	struct stack_opts *o;
	struct aws_ctx ctx;
};

/* --- arguments --- */

/* The names under "Parameters:" in the embedded template: keys indented
 * by exactly two spaces until the next top-level key. */
static bool template_has_parameter(const char *name)
{
	const char *p = strstr(ssmbak_template_start, "\nParameters:\n");
	if (!p)
		return false;
	size_t n = strlen(name);
	for (p = strchr(p + 1, '\n') + 1; *p; p = strchr(p, '\n') + 1) {
		if (*p != ' ' && *p != '#' && *p != '\n')
			return false;
		if (p[0] == ' ' && p[1] == ' ' && p[2] != ' ' &&
		    strncmp(p + 2, name, n) == 0 && p[2 + n] == ':')
			return true;
		if (!strchr(p, '\n'))
			return false;
	}
	return false;
}

static void add_pair(struct cfn_pairs *l, const char *arg, const char *what)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg)
		cli_usage_error(usage, "%s takes KEY=VALUE, not '%s'", what, arg);
	char *key = xasprintf("%.*s", (int)(eq - arg), arg);
	if (strcmp(what, "--parameters") == 0) {
		for (size_t i = 0; i < sizeof(own_parameters) /
					       sizeof(own_parameters[0]); i++)
			if (strcmp(key, own_parameters[i]) == 0)
				cli_usage_error(usage,
						"%s is set by ssmbak from the binary "
						"it deploys", key);
		if (!template_has_parameter(key))
			cli_usage_error(usage,
					"the template has no parameter '%s'", key);
	}
	if (cfn_pairs_set(l, key, eq + 1, false) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	free(key);
}

/* OUs (ou-xxxx-yyyyyyyy, or the root r-xxxx) or regions, comma-separated;
 * each checked with ok. */
static void split_list(const char *arg, struct name_list *l, const char *what,
		       bool (*ok)(const char *))
{
	char *copy = xstrdup(arg);
	char *save = NULL;
	for (char *item = strtok_r(copy, ",", &save); item;
	     item = strtok_r(NULL, ",", &save)) {
		if (!ok(item))
			cli_usage_error(usage, "'%s' is not %s", item, what);
		l->items = xrealloc(l->items, (l->n + 1) * sizeof(*l->items));
		l->items[l->n++] = xstrdup(item);
	}
	free(copy);
	if (!l->n)
		cli_usage_error(usage, "'%s' names no %s", arg, what);
}

static bool all_of(const char *s, const char *set, size_t min, size_t max)
{
	size_t n = strlen(s);
	return n >= min && n <= max && strspn(s, set) == n;
}

/* https://docs.aws.amazon.com/organizations/latest/APIReference/API_OrganizationalUnit.html:
 * ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}; a root r-[0-9a-z]{4,32}. */
static bool ou_id_ok(const char *s)
{
	static const char alnum[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	if (strncmp(s, "r-", 2) == 0)
		return all_of(s + 2, alnum, 4, 32);
	if (strncmp(s, "ou-", 3) != 0)
		return false;
	const char *dash = strchr(s + 3, '-');
	if (!dash)
		return false;
	char first[40];
	size_t n = (size_t)(dash - (s + 3));
	if (n >= sizeof(first))
		return false;
	memcpy(first, s + 3, n);
	first[n] = '\0';
	return all_of(first, alnum, 4, 32) && all_of(dash + 1, alnum, 8, 32);
}

/* us-east-1, eu-central-2, us-gov-west-1 */
static bool region_ok(const char *s)
{
	return all_of(s, "abcdefghijklmnopqrstuvwxyz0123456789-", 9, 25) &&
	       strchr(s, '-') && s[strlen(s) - 1] >= '0' && s[strlen(s) - 1] <= '9';
}

/* arn:PARTITION:iam::ACCOUNT:role/NAME */
static bool role_arn_ok(const char *s)
{
	return strncmp(s, "arn:aws", 7) == 0 && strstr(s, ":iam::") &&
	       strstr(s, ":role/") && s[strlen(s) - 1] != '/';
}

static void parse_args(int argc, char **argv, struct stack_opts *o)
{
	enum { OPT_TAGS = CLI_OPT_FIRST_FREE, OPT_CODE_BUCKET,
	       OPT_DELETE_BUCKET, OPT_FORCE, OPT_ROLE_ARN, OPT_YES,
	       OPT_ORG_UNITS, OPT_REGIONS };
	static const struct option longopts[] = {
		{ "region", required_argument, NULL, 'r' },
		{ "profile", required_argument, NULL, CLI_OPT_PROFILE },
		{ "bucket-owner", required_argument, NULL, CLI_OPT_BUCKET_OWNER },
		{ "output", required_argument, NULL, CLI_OPT_OUTPUT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "parameters", required_argument, NULL, 'p' },
		{ "tags", required_argument, NULL, OPT_TAGS },
		{ "code-bucket", required_argument, NULL, OPT_CODE_BUCKET },
		{ "delete-bucket", no_argument, NULL, OPT_DELETE_BUCKET },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "role-arn", required_argument, NULL, OPT_ROLE_ARN },
		{ "yes", no_argument, NULL, OPT_YES },
		{ "org-units", required_argument, NULL, OPT_ORG_UNITS },
		{ "regions", required_argument, NULL, OPT_REGIONS },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "p:r:vqh", longopts, NULL)) != -1) {
		if (cli_common_option(c, optarg, &o->common, usage))
			continue;
		switch (c) {
		case 'p': add_pair(&o->parameters, optarg, "--parameters"); break;
		case OPT_TAGS:
			add_pair(&o->tags, optarg, "--tags");
			o->have_tags = true;
			break;
		case OPT_CODE_BUCKET:
			if (!s3_bucket_name_is_valid(optarg))
				cli_usage_error(usage, "'%s' is not a valid S3 "
						       "bucket name", optarg);
			o->code_bucket = optarg;
			break;
		case OPT_DELETE_BUCKET: o->delete_bucket = true; break;
		case OPT_FORCE: o->force = true; break;
		case OPT_ROLE_ARN:
			if (!role_arn_ok(optarg))
				cli_usage_error(usage, "'%s' is not an IAM role ARN "
						       "(arn:aws:iam::ACCOUNT:role/NAME)",
						optarg);
			o->role_arn = optarg;
			break;
		case OPT_YES: o->yes = true; break;
		case OPT_ORG_UNITS:
			split_list(optarg, &o->org_units, "an organizational unit "
					   "id (ou-...) or root id (r-...)", ou_id_ok);
			break;
		case OPT_REGIONS:
			split_list(optarg, &o->regions, "a region", region_ok);
			break;
		}
	}
	if (argc - optind == 1 && strcmp(argv[optind], "template") == 0) {
		o->action = ACT_TEMPLATE;
		if (o->parameters.n || o->have_tags || o->code_bucket ||
		    o->role_arn || o->yes || o->org_units.n || o->regions.n ||
		    o->delete_bucket || o->common.output != CLI_OUTPUT_TABLE)
			cli_usage_error(usage, "template takes no options");
		return;
	}
	if (argc - optind < 2)
		cli_usage_error(usage, argc - optind == 0
					       ? "NAME and COMMAND are required"
					       : "COMMAND is required (create, "
						 "update, delete, status, ...)");
	if (argc - optind > 2)
		cli_usage_error(usage, "too many arguments: '%s'", argv[optind + 2]);
	o->name = argv[optind];
	if (!cli_stack_name_is_valid(o->name))
		cli_usage_error(usage, "'%s' is not a stack name (a letter, then "
				       "letters, digits and -, at most 128)",
				o->name);
	const char *verb = argv[optind + 1];
	size_t n = sizeof(action_names) / sizeof(action_names[0]);
	size_t i = 0;
	while (i < n && strcmp(verb, action_names[i]) != 0)
		i++;
	if (i == n)
		cli_unknown_verb(usage, o->name, verb, action_names, n);
	o->action = (enum action)i;
	if (o->action == ACT_TEMPLATE)
		cli_usage_error(usage, "template takes no NAME: 'ssmbak stack "
				       "template'");
	bool writes = o->action == ACT_CREATE || o->action == ACT_UPDATE ||
		      o->action == ACT_DIFF;
	if (!writes && (o->parameters.n || o->have_tags || o->code_bucket ||
			o->role_arn))
		cli_usage_error(usage, "--parameters, --tags, --code-bucket and "
				       "--role-arn go with create, diff or update");
	if (o->yes && o->action != ACT_UPDATE)
		cli_usage_error(usage, "--yes goes with update");
	if ((o->org_units.n || o->regions.n) && o->action != ACT_CREATE)
		cli_usage_error(usage, "--org-units and --regions go with create "
				       "(status and delete find the StackSet on their "
				       "own)");
	if (o->org_units.n && o->code_bucket)
		cli_usage_error(usage, "--code-bucket names one bucket, in one region; "
				       "--org-units uses ssmbak-deploy-ACCOUNT-REGION "
				       "in each region of --regions");
	if (o->org_units.n != 0 && o->regions.n == 0)
		cli_usage_error(usage, "--org-units needs --regions");
	if (o->regions.n != 0 && o->org_units.n == 0)
		cli_usage_error(usage, "--regions goes with --org-units");
	/* update asks before it changes anything; where it cannot ask, it
	 * refuses before it uploads or creates anything. */
	if (o->action == ACT_UPDATE && !o->yes && !isatty(STDIN_FILENO))
		die(EXIT_USAGE, "update asks before it changes stack '%s', and its "
				"input is not a terminal: review the changes with "
				"'ssmbak stack %s diff', then run update with --yes",
		    o->name, o->name);
	if (o->action != ACT_DELETE && o->delete_bucket)
		cli_usage_error(usage, "--delete-bucket goes with delete");
	if (o->force && !o->delete_bucket)
		cli_usage_error(usage, "--force goes with --delete-bucket");
	if (o->common.output == CLI_OUTPUT_JSON && o->action != ACT_STATUS &&
	    o->action != ACT_EVENTS && o->action != ACT_OUTPUTS)
		cli_usage_error(usage, "--output json goes with status, events or "
				       "outputs");
}

/* --- the binary: what Lambda can run --- */

/* A Lambda binary for provided.al2023 must run alone: a statically linked
 * ELF (no PT_INTERP program header, so no dynamic loader and no shared
 * libraries) for x86_64 or arm64. Returns the Lambda architecture name,
 * or NULL with *why set. */
static const char *lambda_architecture(const unsigned char *data, size_t len,
				       const char **why)
{
	Elf64_Ehdr eh;
	if (len < sizeof(eh) || memcmp(data, ELFMAG, SELFMAG) != 0) {
		*why = "it is not an ELF executable";
		return NULL;
	}
	memcpy(&eh, data, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB) {
		*why = "it is not a 64-bit little-endian ELF";
		return NULL;
	}
	const char *arch = eh.e_machine == EM_X86_64 ? "x86_64"
			 : eh.e_machine == EM_AARCH64 ? "arm64"
						       : NULL;
	if (!arch) {
		*why = "it is built for a machine Lambda does not offer "
		       "(only x86_64 and aarch64)";
		return NULL;
	}
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > len ||
	    (len - eh.e_phoff) / sizeof(Elf64_Phdr) < eh.e_phnum) {
		*why = "its program headers are damaged";
		return NULL;
	}
	for (size_t i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, data + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_INTERP) {
			*why = "it is dynamically linked (it has a program "
			       "interpreter); build it with 'make static'";
			return NULL;
		}
	}
	return arch;
}

static unsigned char *read_self(size_t *len)
{
	FILE *f = fopen("/proc/self/exe", "rb");
	if (!f)
		die(EXIT_FAILURE_RUN, "cannot read /proc/self/exe: %m");
	struct buf b = BUF_INIT;
	char chunk[65536];
	size_t got;
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(&b, chunk, got) < 0)
			die(EXIT_FAILURE_RUN, "this binary is too large to deploy");
	if (ferror(f))
		die(EXIT_FAILURE_RUN, "cannot read /proc/self/exe: %m");
	fclose(f);
	*len = b.len;
	return (unsigned char *)buf_detach(&b);
}

struct code {
	char *bucket;
	char *key;
	const char *architecture;
};

static void code_release(struct code *c)
{
	free(c->bucket);
	free(c->key);
}

static void hex(const unsigned char *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", in[i]);
}

/* The deployment bucket: created when missing. New buckets are private
 * (Block Public Access on, ACLs off) and encrypted with SSE-S3 by default:
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-encryption-faq.html
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/create-bucket-overview.html */
static void ensure_code_bucket(struct stack_run *r, const char *bucket)
{
	struct aws_call call;
	struct err e = { 0 };
	if (s3_prepare_bucket_call(&r->ctx, &call, "HEAD", "HeadBucket", bucket,
				   NULL) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	int rc = aws_perform_one(&r->ctx, &call, &e);
	aws_call_release(&call);
	/* Lambda takes its code only from a bucket of its own region; S3
	 * answering from another region (lib/s3_region.h) is no code bucket. */
	if (rc == 0 && strcmp(aws_bucket_region(&r->ctx, bucket), r->ctx.region))
		die(EXIT_FAILURE_RUN, "the code bucket %s is in region %s, not %s: "
		    "Lambda takes code only from a bucket of its region; choose "
		    "another with --code-bucket", bucket,
		    aws_bucket_region(&r->ctx, bucket), r->ctx.region);
	if (rc == 0)
		return;
	/* Every S3 request names the expected owner (lib/aws.h): a bucket of
	 * another account, made first under our predictable name ("bucket
	 * sniping"), answers 403 and is never written to. */
	if (e.http_status == 403)
		die(EXIT_FAILURE_RUN, "the code bucket %s exists but does not "
				      "belong to account %s (or denies you "
				      "access): nothing was uploaded; choose "
				      "another with --code-bucket", bucket,
		    r->ctx.bucket_owner);
	if (e.http_status != 404)
		die_err(&e);
	log_msg(LOG_INFO, "creating the code bucket %s", bucket);
	if (s3_prepare_bucket_call(&r->ctx, &call, "PUT", "CreateBucket", bucket,
				   NULL) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	/* us-east-1 takes no LocationConstraint; every other region needs it. */
	if (strcmp(r->ctx.region, "us-east-1") != 0 &&
	    buf_printf(&call.req.body,
		       "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws"
		       ".com/doc/2006-03-01/\"><LocationConstraint>%s"
		       "</LocationConstraint></CreateBucketConfiguration>",
		       r->ctx.region) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	rc = aws_perform_one(&r->ctx, &call, &e);
	aws_call_release(&call);
	if (rc < 0 && strcmp(e.code, "BucketAlreadyOwnedByYou") != 0)
		die_err(&e);
}

/* The binary, zipped as bootstrap, in the code bucket under a key named by
 * the zip's SHA-256: a new binary is a new key, so UpdateStack sees new
 * code; the same binary twice is one upload. */
static void deploy_code(struct stack_run *r, struct code *out)
{
	size_t len;
	unsigned char *self = read_self(&len);
	const char *why = NULL;
	out->architecture = lambda_architecture(self, len, &why);
	if (!out->architecture)
		die(EXIT_USAGE, "this binary cannot be the Lambda: %s", why);

	struct err e = { 0 };
	/* A context of another region (an organization's) has not asked yet. */
	if (!r->ctx.bucket_owner &&
	    sts_expect_bucket_owner(&r->ctx, r->o->common.bucket_owner, &e) < 0)
		die_err(&e);
	if (r->o->code_bucket) {
		out->bucket = xstrdup(r->o->code_bucket);
	} else {
		out->bucket = xasprintf("ssmbak-deploy-%s-%s",
					r->ctx.bucket_owner, r->ctx.region);
	}
	ensure_code_bucket(r, out->bucket);

	struct zip_entry entry = { "bootstrap", self, len, 0755, 0 };
	struct buf zip = BUF_INIT;
	if (zip_write(&zip, &entry, 1, &e) < 0)
		die_err(&e);
	free(self);
	unsigned char digest[SHA256_DIGEST_LENGTH];
	char digest_hex[2 * SHA256_DIGEST_LENGTH + 1];
	SHA256((const unsigned char *)zip.data, zip.len, digest);
	hex(digest, sizeof(digest), digest_hex);
	out->key = xasprintf("ssmbak/bootstrap-%s-%s.zip", out->architecture,
			     digest_hex);

	struct aws_call call;
	if (s3_prepare_get_object(&r->ctx, &call, out->bucket, out->key, NULL) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	call.req.method = "HEAD";
	call.req.operation = "HeadObject";
	call.req.head = true;
	int rc = aws_perform_one(&r->ctx, &call, &e);
	aws_call_release(&call);
	if (rc == 0) {
		log_msg(LOG_INFO, "code s3://%s/%s is already there", out->bucket,
			out->key);
	} else if (e.http_status == 404) {
		log_msg(LOG_INFO, "uploading the code: s3://%s/%s (%zu bytes)",
			out->bucket, out->key, zip.len);
		if (s3_prepare_put_object(&r->ctx, &call, out->bucket, out->key,
					  zip.data, zip.len, NULL, NULL) < 0 ||
		    aws_headers_add(&call.req.headers,
				    "x-amz-server-side-encryption", "AES256") < 0)
			die(EXIT_FAILURE_RUN, "out of memory");
		rc = aws_perform_one(&r->ctx, &call, &e);
		aws_call_release(&call);
		if (rc < 0)
			die_err(&e);
	} else {
		die_err(&e);
	}
	buf_release(&zip);
}

/* --- watching --- */

/* 06/13/24 01:43:05   CREATE_IN_PROGRESS  ssmbak  AWS::CloudFormation::Stack  User Initiated
 * (the Python ssmbak's line, in UTC) */
static void print_event(const struct cfn_event *ev)
{
	char when[32] = "";
	time_t t = (time_t)ev->timestamp;
	struct tm tm;
	if (gmtime_r(&t, &tm))
		snprintf(when, sizeof(when), "%02d/%02d/%02d %02d:%02d:%02d",
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_year % 100, tm.tm_hour,
			 tm.tm_min, tm.tm_sec);
	escape_fprintf(stdout, "%s   %s  %s  %s%s%s\n", when, ev->status ? ev->status : "",
	       ev->logical_id ? ev->logical_id : "", ev->type ? ev->type : "",
	       ev->reason && *ev->reason ? "  " : "",
	       ev->reason ? ev->reason : "");
	fflush(stdout);
}

/* The newest event's id: what came before an operation. */
static char *newest_event(struct stack_run *r, const char *stack)
{
	struct cfn_event_list l = { 0 };
	struct err e = { 0 };
	if (cfn_describe_events(&r->ctx, stack, NULL, true, &l, &e) < 0)
		die_err(&e);
	char *id = l.n ? xstrdup(l.items[0].id) : NULL;
	cfn_event_list_release(&l);
	return id;
}

struct watch {
	char *last_seen;               /* newest event printed */
	struct cfn_event_list failures; /* *_FAILED events with a reason */
};

static void take_events(struct stack_run *r, const char *stack_id,
			struct watch *w)
{
	struct cfn_event_list l = { 0 };
	struct err e = { 0 };
	if (cfn_describe_events(&r->ctx, stack_id, w->last_seen, false, &l,
				&e) < 0)
		die_err(&e);
	for (size_t i = l.n; i-- > 0;) {
		struct cfn_event *ev = &l.items[i];
		print_event(ev);
		if (cfn_status_failed(ev->status) && ev->reason &&
		    strcmp(ev->reason, "Resource creation cancelled") != 0) {
			struct cfn_event_list *f = &w->failures;
			f->items = xrealloc(f->items, (f->n + 1) * sizeof(*f->items));
			f->items[f->n++] = *ev;
			memset(ev, 0, sizeof(*ev));
		}
	}
	if (l.n) {
		free(w->last_seen);
		w->last_seen = xstrdup(l.items[0].id);
	}
	cfn_event_list_release(&l);
}

/* Prints the operation's events as they come until the stack settles;
 * returns its final status (caller frees). A deleted stack is found by
 * its id: DELETE_COMPLETE. */
static char *watch_stack(struct stack_run *r, const char *stack_id,
			 char *baseline, struct watch *w)
{
	w->last_seen = baseline;
	for (;;) {
		take_events(r, stack_id, w);
		struct cfn_stack s;
		struct err e = { 0 };
		bool missing;
		if (cfn_describe_stack(&r->ctx, stack_id, &s, &missing, &e) < 0) {
			if (missing)
				return xstrdup("DELETE_COMPLETE");
			die_err(&e);
		}
		if (!cfn_status_in_progress(s.status)) {
			char *status = xstrdup(s.status);
			cfn_stack_release(&s);
			take_events(r, stack_id, w);
			return status;
		}
		cfn_stack_release(&s);
		sleep(POLL_SECONDS);
	}
}

static void print_failures(const struct watch *w, const char *status)
{
	escape_fprintf(stderr, "%s: the stack ended in %s\n", progname(), status);
	for (size_t i = 0; i < w->failures.n; i++) {
		const struct cfn_event *ev = &w->failures.items[i];
		escape_fprintf(stderr, "  %s (%s): %s\n", ev->logical_id, ev->type,
			ev->reason);
	}
}

static void watch_release(struct watch *w)
{
	free(w->last_seen);
	cfn_event_list_release(&w->failures);
}

/* --- reading the stack --- */

static void describe_or_die(struct stack_run *r, struct cfn_stack *s)
{
	struct err e = { 0 };
	bool missing;
	if (cfn_describe_stack(&r->ctx, r->o->name, s, &missing, &e) == 0)
		return;
	if (missing)
		die(EXIT_FAILURE_RUN, "no stack '%s' in %s", r->o->name,
		    r->ctx.region);
	die_err(&e);
}

static const char *output_or_die(const struct cfn_stack *s, const char *key)
{
	const char *v = cfn_pairs_get(&s->outputs, key);
	if (!v)
		die(EXIT_FAILURE_RUN, "stack '%s' (%s) has no output %s", s->name,
		    s->status, key);
	return v;
}

static void print_summary(struct stack_run *r, const char *status)
{
	struct cfn_stack s;
	describe_or_die(r, &s);
	const char *bucket = output_or_die(&s, "BucketName");
	printf("\nStack %s: %s\n", s.name, status);
	printf("  Lambda     %s\n", output_or_die(&s, "LambdaName"));
	printf("  bucket     %s\n", bucket);
	printf("  log group  %s\n", output_or_die(&s, "LogGroupName"));
	printf("Every Parameter Store change in %s is now backed up. To record "
	       "the\nparameters as they are now: ssmbak backfill --do-it "
	       "--stack %s\n", r->ctx.region, s.name);
	cfn_stack_release(&s);
}

/* --- create, update, delete --- */

static void add_code_parameters(struct cfn_pairs *p, const struct code *code)
{
	if (cfn_pairs_set(p, "CodeBucket", code->bucket, false) < 0 ||
	    cfn_pairs_set(p, "CodeKey", code->key, false) < 0 ||
	    cfn_pairs_set(p, "Architecture", code->architecture, false) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
}

static int finish(struct stack_run *r, const char *stack_id, char *baseline,
		  const char *success)
{
	struct watch w = { 0 };
	char *status = watch_stack(r, stack_id, baseline, &w);
	int rc = EXIT_OK;
	if (strcmp(status, success) != 0) {
		print_failures(&w, status);
		if (strcmp(status, "ROLLBACK_COMPLETE") == 0)
			fprintf(stderr, "Delete it ('ssmbak stack %s delete') "
					"before creating it again.\n", r->o->name);
		rc = EXIT_FAILURE_RUN;
	} else if (strcmp(success, "DELETE_COMPLETE") != 0) {
		print_summary(r, status);
	}
	free(status);
	watch_release(&w);
	return rc;
}

/* The bucket policy lets only the Lambda and WriterPrincipalArns write
 * (template.yaml). Unless told otherwise, whoever creates the stack is a
 * writer: it backfills and reindexes later. */
static void default_writers(struct stack_run *r)
{
	if (cfn_pairs_get(&r->o->parameters, "WriterPrincipalArns"))
		return;
	struct sts_identity id;
	struct err e = { 0 };
	if (sts_get_caller_identity(&r->ctx, &id, &e) < 0)
		die_err(&e);
	char *writers = sts_principal_arn_patterns(id.arn);
	if (!writers ||
	    cfn_pairs_set(&r->o->parameters, "WriterPrincipalArns", writers,
			  false) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	log_msg(LOG_INFO, "writers besides the Lambda: %s", writers);
	free(writers);
	sts_identity_release(&id);
}

static int create_plain_stack(struct stack_run *r)
{
	default_writers(r);
	struct code code = { 0 };
	deploy_code(r, &code);
	add_code_parameters(&r->o->parameters, &code);
	struct cfn_stack_input in = {
		r->o->name, ssmbak_template_start, &r->o->parameters,
		r->o->have_tags ? &r->o->tags : NULL, true, r->o->role_arn,
	};
	char *stack_id = NULL;
	struct err e = { 0 };
	if (cfn_create_stack(&r->ctx, &in, &stack_id, &e) < 0) {
		if (strcmp(e.code, "AlreadyExistsException") == 0)
			die(EXIT_FAILURE_RUN, "stack '%s' already exists in %s: "
					      "'ssmbak stack %s update' deploys "
					      "this binary to it", r->o->name,
			    r->ctx.region, r->o->name);
		die_err(&e);
	}
	log_msg(LOG_INFO, "creating %s", stack_id);
	int rc = finish(r, stack_id, NULL, "CREATE_COMPLETE");
	free(stack_id);
	code_release(&code);
	return rc;
}

/* --- an organization: the central stack and a StackSet ---
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html */

/* Organizations answers in us-east-1 only (its one endpoint). */
static void describe_organization(struct stack_run *r, struct org_organization *org)
{
	struct aws_ctx ctx = { 0 };
	struct aws_options opts = { "us-east-1", r->o->common.profile };
	struct err e = { 0 };
	if (aws_ctx_init(&ctx, &opts, &e) < 0)
		die_err(&e);
	if (org_describe_organization(&ctx, org, &e) < 0) {
		if (strcmp(e.code, "AWSOrganizationsNotInUseException") == 0)
			die(EXIT_CONFIG, "this account is in no AWS organization: "
					 "--org-units deploys to an organization's "
					 "accounts");
		die_err(&e);
	}
	aws_ctx_release(&ctx);
}

/* The code bucket of one region lets the organization's accounts read the
 * code, as CloudFormation in each of them fetches it for CreateFunction.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-bucket-policies.html */
static void share_code_bucket(struct stack_run *r, const struct code *code,
			      const char *org_id)
{
	char *policy = xasprintf(
		"{\"Version\": \"2012-10-17\", \"Statement\": [{\"Sid\": "
		"\"SsmbakOrganizationReadsCode\", \"Effect\": \"Allow\", "
		"\"Principal\": \"*\", \"Action\": \"s3:GetObject\", "
		"\"Resource\": \"arn:aws:s3:::%s/ssmbak/*\", \"Condition\": "
		"{\"StringEquals\": {\"aws:PrincipalOrgID\": \"%s\"}}}]}",
		code->bucket, org_id);
	struct aws_call call;
	struct err e = { 0 };
	if (s3_prepare_bucket_call(&r->ctx, &call, "PUT", "PutBucketPolicy",
				   code->bucket, "policy") < 0 ||
	    buf_puts(&call.req.body, policy) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	int rc = aws_perform_one(&r->ctx, &call, &e);
	aws_call_release(&call);
	free(policy);
	if (rc < 0)
		die_err(&e);
}

/* Waits for a StackSet operation; true when it succeeded. */
static bool wait_operation(struct stack_run *r, const char *operation_id,
			   const char *what)
{
	for (;;) {
		char *status = NULL, *reason = NULL;
		struct err e = { 0 };
		if (cfn_describe_stack_set_operation(&r->ctx, r->o->name, operation_id,
						     &status, &reason, &e) < 0)
			die_err(&e);
		bool moving = strcmp(status, "RUNNING") == 0 ||
			      strcmp(status, "QUEUED") == 0 ||
			      strcmp(status, "STOPPING") == 0;
		if (!moving) {
			bool ok = strcmp(status, "SUCCEEDED") == 0;
			printf("StackSet %s: %s: %s%s%s\n", r->o->name, what, status,
			       reason ? ": " : "", reason ? reason : "");
			fflush(stdout);
			free(status);
			free(reason);
			return ok;
		}
		free(status);
		free(reason);
		sleep(POLL_SECONDS);
	}
}

/*   111111111111  eu-west-1  CURRENT   SUCCEEDED  ou-ab12-cdef3456 */
static void print_instances(const struct cfn_stack_instance_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct cfn_stack_instance *s = &l->items[i];
		printf("  %s  %-14s  %-10s  %-9s  %s%s%s\n", s->account, s->region,
		       s->status ? s->status : "", s->detailed_status ? s->detailed_status : "",
		       s->ou ? s->ou : "", s->reason ? "  " : "", s->reason ? s->reason : "");
	}
}

/* Every instance CURRENT. */
static bool instances_current(const struct cfn_stack_instance_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (!l->items[i].status || strcmp(l->items[i].status, "CURRENT") != 0)
			return false;
	return l->n > 0;
}

/* The central bucket: the stack NAME of this account and region, whose
 * bucket policy admits the organization's pipeline roles; or the bucket
 * given as ExistingBucket. *bucket and *region are set (caller frees). */
static int central_bucket(struct stack_run *r, const char *org_id, char **bucket,
			  char **region)
{
	const char *existing = cfn_pairs_get(&r->o->parameters, "ExistingBucket");
	if (existing && *existing) {
		const char *where = cfn_pairs_get(&r->o->parameters, "BucketRegion");
		*bucket = xstrdup(existing);
		*region = xstrdup(where && *where ? where : r->ctx.region);
		return EXIT_OK;
	}
	if (cfn_pairs_set(&r->o->parameters, "OrganizationId", org_id, false) < 0 ||
	    cfn_pairs_set(&r->o->parameters, "OrgPipelineName", r->o->name, false) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	int rc = create_plain_stack(r);
	if (rc != EXIT_OK)
		return rc;
	struct cfn_stack s;
	describe_or_die(r, &s);
	*bucket = xstrdup(output_or_die(&s, "BucketName"));
	*region = xstrdup(r->ctx.region);
	/* The members' roles are let use the central bucket's key by its key
	 * policy; their own IAM policies name it through KmsKeyArn. */
	const char *key = cfn_pairs_get(&s.outputs, "BucketKeyArn");
	if (key && *key &&
	    cfn_pairs_set(&r->o->parameters, "KmsKeyArn", key, false) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	cfn_stack_release(&s);
	/* The members' stacks write into it; they neither make it nor admit. */
	if (cfn_pairs_set(&r->o->parameters, "OrganizationId", "", false) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	return EXIT_OK;
}

static int stack_create_org(struct stack_run *r)
{
	struct stack_opts *o = r->o;
	struct org_organization org;
	describe_organization(r, &org);
	char *bucket = NULL, *bucket_region = NULL;
	int rc = central_bucket(r, org.id, &bucket, &bucket_region);
	if (rc != EXIT_OK) {
		org_organization_release(&org);
		return rc;
	}
	/* The code, in a bucket of each region the stacks go to. */
	struct code *codes = xcalloc(o->regions.n, sizeof(*codes));
	for (size_t i = 0; i < o->regions.n; i++) {
		struct stack_run there = { o, { 0 } };
		struct aws_options opts = { o->regions.items[i], o->common.profile };
		struct err e = { 0 };
		if (aws_ctx_init(&there.ctx, &opts, &e) < 0)
			die_err(&e);
		deploy_code(&there, &codes[i]);
		share_code_bucket(&there, &codes[i], org.id);
		aws_ctx_release(&there.ctx);
	}
	add_code_parameters(&o->parameters, &codes[0]);
	if (cfn_pairs_set(&o->parameters, "ExistingBucket", bucket, false) < 0 ||
	    cfn_pairs_set(&o->parameters, "BucketRegion", bucket_region, false) < 0 ||
	    cfn_pairs_set(&o->parameters, "BucketOwner", r->ctx.bucket_owner,
			  false) < 0 ||
	    cfn_pairs_set(&o->parameters, "OrgPipelineName", o->name, false) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	struct cfn_stack_input in = {
		o->name, ssmbak_template_start, &o->parameters,
		o->have_tags ? &o->tags : NULL, true, NULL,
	};
	struct err e = { 0 };
	if (cfn_create_stack_set(&r->ctx, &in, &e) < 0)
		die_err(&e);
	printf("StackSet %s: every account of %zu organizational unit%s, into "
	       "s3://%s (%s)\n", o->name, o->org_units.n, o->org_units.n == 1 ? "" : "s",
	       bucket, bucket_region);
	bool ok = true;
	for (size_t i = 0; i < o->regions.n; i++) {
		struct cfn_pairs overrides = { 0 };
		if (cfn_pairs_set(&overrides, "CodeBucket", codes[i].bucket, false) < 0)
			die(EXIT_FAILURE_RUN, "out of memory");
		const char *region = o->regions.items[i];
		char *operation_id = NULL;
		if (cfn_create_stack_instances(&r->ctx, o->name,
					       (const char *const *)o->org_units.items,
					       o->org_units.n, &region, 1, &overrides,
					       &operation_id, &e) < 0)
			die_err(&e);
		char what[64];
		snprintf(what, sizeof(what), "deploying to %s", region);
		ok = wait_operation(r, operation_id, what) && ok;
		free(operation_id);
		cfn_pairs_release(&overrides);
	}
	struct cfn_stack_instance_list l;
	bool missing;
	if (cfn_list_stack_instances(&r->ctx, o->name, &l, &missing, &e) < 0)
		die_err(&e);
	print_instances(&l);
	if (!instances_current(&l) || !ok) {
		fprintf(stderr, "%s: not every account of the organizational units has "
				"its pipeline: see the reasons above\n", progname());
		rc = EXIT_FAILURE_RUN;
	} else {
		printf("Every Parameter Store change of those accounts and regions is "
		       "now backed up\ninto s3://%s, each under ACCOUNT/REGION/; "
		       "accounts that join the units later too.\n", bucket);
	}
	cfn_stack_instance_list_release(&l);
	for (size_t i = 0; i < o->regions.n; i++)
		code_release(&codes[i]);
	free(codes);
	free(bucket);
	free(bucket_region);
	org_organization_release(&org);
	return rc;
}

/* The StackSet NAME's instances, if there is such a StackSet: false when
 * there is none (or the caller may not read StackSets: said with -v). */
static bool stack_set_instances(struct stack_run *r, struct cfn_stack_instance_list *l)
{
	bool missing;
	struct err e = { 0 };
	if (cfn_list_stack_instances(&r->ctx, r->o->name, l, &missing, &e) == 0)
		return true;
	if (!missing) {
		char line[ERR_LINE_MAX];
		log_msg(LOG_INFO, "no StackSet instances: %s",
			err_line(&e, line, sizeof(line)));
	}
	return false;
}

/* Every instance's stack, then the StackSet. */
static int delete_stack_set(struct stack_run *r, const struct cfn_stack_instance_list *l)
{
	struct name_list ous = { 0 }, regions = { 0 };
	for (size_t i = 0; i < l->n; i++) {
		const char *ou = l->items[i].ou, *region = l->items[i].region;
		bool have_ou = false, have_region = false;
		for (size_t k = 0; k < ous.n; k++)
			have_ou |= ou && strcmp(ous.items[k], ou) == 0;
		for (size_t k = 0; k < regions.n; k++)
			have_region |= region && strcmp(regions.items[k], region) == 0;
		if (ou && !have_ou) {
			ous.items = xrealloc(ous.items, (ous.n + 1) * sizeof(char *));
			ous.items[ous.n++] = xstrdup(ou);
		}
		if (region && !have_region) {
			regions.items = xrealloc(regions.items, (regions.n + 1) * sizeof(char *));
			regions.items[regions.n++] = xstrdup(region);
		}
	}
	bool ok = true;
	struct err e = { 0 };
	if (l->n) {
		char *operation_id = NULL;
		if (cfn_delete_stack_instances(&r->ctx, r->o->name,
					       (const char *const *)ous.items, ous.n,
					       (const char *const *)regions.items,
					       regions.n, &operation_id, &e) < 0)
			die_err(&e);
		ok = wait_operation(r, operation_id, "deleting every account's stack");
		free(operation_id);
	}
	name_list_release(&ous);
	name_list_release(&regions);
	if (!ok)
		return EXIT_FAILURE_RUN;
	if (cfn_delete_stack_set(&r->ctx, r->o->name, &e) < 0)
		die_err(&e);
	printf("StackSet %s is deleted; the accounts' backups stay in the central "
	       "bucket.\n", r->o->name);
	return EXIT_OK;
}

/* Regions of the instances, each once. */
static void instance_regions(const struct cfn_stack_instance_list *l,
			     struct name_list *out)
{
	for (size_t i = 0; i < l->n; i++) {
		bool seen = false;
		for (size_t k = 0; k < out->n && l->items[i].region; k++)
			seen |= strcmp(out->items[k], l->items[i].region) == 0;
		if (!seen && l->items[i].region) {
			out->items = xrealloc(out->items, (out->n + 1) * sizeof(char *));
			out->items[out->n++] = xstrdup(l->items[i].region);
		}
	}
}

/* Parameters an update of the StackSet keeps as they are: where its
 * stacks write, and each region's code bucket (the instances' overrides). */
static bool stack_set_keeps(const char *key)
{
	static const char *const kept[] = { "OrganizationId", "ExistingBucket",
					    "BucketRegion", "OrgPipelineName",
					    "CodeBucket" };
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (strcmp(key, kept[i]) == 0)
			return true;
	return false;
}

/* This binary and template to every instance: the code to each region's
 * bucket (the instances' CodeBucket overrides stay), the parameters given,
 * the StackSet's values for the others. */
static int update_stack_set(struct stack_run *r, const struct cfn_stack_instance_list *l)
{
	struct stack_opts *o = r->o;
	struct org_organization org;
	describe_organization(r, &org);
	struct name_list regions = { 0 };
	instance_regions(l, &regions);
	struct code code = { 0 };
	for (size_t i = 0; i < regions.n; i++) {
		struct stack_run there = { o, { 0 } };
		struct aws_options opts = { regions.items[i], o->common.profile };
		struct err e = { 0 };
		if (aws_ctx_init(&there.ctx, &opts, &e) < 0)
			die_err(&e);
		code_release(&code);
		memset(&code, 0, sizeof(code));
		deploy_code(&there, &code);
		share_code_bucket(&there, &code, org.id);
		aws_ctx_release(&there.ctx);
	}
	struct cfn_pairs previous = { 0 }, parameters = { 0 };
	struct err e = { 0 };
	if (cfn_describe_stack_set(&r->ctx, o->name, &previous, &e) < 0)
		die_err(&e);
	/* Given: what -p set (not what the central stack keeps). */
	for (size_t i = 0; i < o->parameters.n; i++) {
		const struct cfn_pair *p = &o->parameters.items[i];
		if (!p->use_previous && !stack_set_keeps(p->key) &&
		    cfn_pairs_set(&parameters, p->key, p->value, false) < 0)
			die(EXIT_FAILURE_RUN, "out of memory");
	}
	for (size_t i = 0; i < previous.n; i++) {
		const char *key = previous.items[i].key;
		if (!cfn_pairs_get(&parameters, key) && template_has_parameter(key) &&
		    cfn_pairs_set(&parameters, key, NULL, true) < 0)
			die(EXIT_FAILURE_RUN, "out of memory");
	}
	if (cfn_pairs_set(&parameters, "CodeKey", code.key, false) < 0 ||
	    cfn_pairs_set(&parameters, "Architecture", code.architecture, false) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	struct cfn_stack_input in = {
		o->name, ssmbak_template_start, &parameters, NULL, true, NULL,
	};
	printf("StackSet %s: updating %zu stack instance%s\n", o->name, l->n,
	       l->n == 1 ? "" : "s");
	fflush(stdout);
	char *operation_id = NULL;
	if (cfn_update_stack_set(&r->ctx, &in, &operation_id, &e) < 0)
		die_err(&e);
	bool ok = wait_operation(r, operation_id, "updating every account's stack");
	free(operation_id);
	struct cfn_stack_instance_list now;
	bool missing;
	if (cfn_list_stack_instances(&r->ctx, o->name, &now, &missing, &e) < 0)
		die_err(&e);
	print_instances(&now);
	ok = ok && instances_current(&now);
	cfn_stack_instance_list_release(&now);
	cfn_pairs_release(&previous);
	cfn_pairs_release(&parameters);
	code_release(&code);
	name_list_release(&regions);
	org_organization_release(&org);
	return ok ? EXIT_OK : EXIT_FAILURE_RUN;
}

/* --- change sets: diff and update --- */

/* The stack as update finds it, and what it would deploy: this binary and
 * template, the parameters given, the rest kept. */
struct planned_update {
	struct cfn_stack stack;
	struct code code;
	struct cfn_stack_input in;
};

static void planned_update_release(struct planned_update *p)
{
	cfn_stack_release(&p->stack);
	code_release(&p->code);
}

static void plan_update(struct stack_run *r, struct planned_update *p)
{
	memset(p, 0, sizeof(*p));
	describe_or_die(r, &p->stack);
	struct cfn_stack *s = &p->stack;
	if (cfn_status_in_progress(s->status))
		die(EXIT_FAILURE_RUN, "stack '%s' is busy (%s): try again when it "
				      "settles", s->name, s->status);
	/* ObjectLockEnabled cannot change on a bucket CloudFormation made: it
	 * would replace the bucket (and keep the old one, backups and all).
	 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-s3-bucket.html#cfn-s3-bucket-objectlockenabled */
	const char *lock_was = cfn_pairs_get(&s->parameters, "ObjectLockDays");
	const char *lock_is = cfn_pairs_get(&r->o->parameters, "ObjectLockDays");
	if (lock_was && lock_is &&
	    (strtol(lock_was, NULL, 10) == 0) != (strtol(lock_is, NULL, 10) == 0))
		cli_usage_error(usage, "ObjectLockDays can be turned on or off only "
				       "when the stack is created (the bucket "
				       "would be replaced)");
	deploy_code(r, &p->code);
	/* What is not given keeps its value. */
	for (size_t i = 0; i < s->parameters.n; i++) {
		const char *key = s->parameters.items[i].key;
		if (!cfn_pairs_get(&r->o->parameters, key) &&
		    template_has_parameter(key) &&
		    cfn_pairs_set(&r->o->parameters, key, NULL, true) < 0)
			die(EXIT_FAILURE_RUN, "out of memory");
	}
	/* A stack made before the writer list: its updater becomes a writer,
	 * as its creator would have. */
	if (!cfn_pairs_get(&s->parameters, "WriterPrincipalArns"))
		default_writers(r);
	add_code_parameters(&r->o->parameters, &p->code);
	p->in = (struct cfn_stack_input){
		r->o->name, ssmbak_template_start, &r->o->parameters,
		r->o->have_tags ? &r->o->tags : NULL, true, r->o->role_arn,
	};
}

static bool change_set_pending(const struct cfn_change_set *c)
{
	return strcmp(c->status, "CREATE_PENDING") == 0 ||
	       strcmp(c->status, "CREATE_IN_PROGRESS") == 0;
}

/* CreateChangeSet, then DescribeChangeSet until it is computed. *id is
 * the change set's ARN (caller frees). */
static void make_change_set(struct stack_run *r, const struct planned_update *p,
			    char **id, struct cfn_change_set *out)
{
	char name[64];
	snprintf(name, sizeof(name), "ssmbak-%lld", (long long)time(NULL));
	struct err e = { 0 };
	if (cfn_create_change_set(&r->ctx, &p->in, name, id, &e) < 0)
		die_err(&e);
	log_msg(LOG_INFO, "change set %s", *id);
	for (;;) {
		if (cfn_describe_change_set(&r->ctx, *id, out, &e) < 0)
			die_err(&e);
		if (!change_set_pending(out))
			return;
		cfn_change_set_release(out);
		sleep(POLL_SECONDS);
	}
}

static void drop_change_set(struct stack_run *r, const char *id)
{
	struct err e = { 0 };
	if (cfn_delete_change_set(&r->ctx, id, &e) < 0)
		die_err(&e);
}

/* One line a resource:
 *   Modify  Function  AWS::Lambda::Function  Code, Environment
 *   Modify  Bucket    AWS::S3::Bucket        ObjectLockEnabled  (replaced)
 *   Add     Alarm     AWS::CloudWatch::Alarm */
static void print_changes(const struct cfn_stack *s,
			  const struct cfn_change_set *c)
{
	int id_width = 0, type_width = 0;
	for (size_t i = 0; i < c->n; i++) {
		int a = (int)strlen(c->changes[i].logical_id);
		int b = c->changes[i].type ? (int)strlen(c->changes[i].type) : 0;
		id_width = a > id_width ? a : id_width;
		type_width = b > type_width ? b : type_width;
	}
	printf("Changes to stack %s:\n", s->name);
	for (size_t i = 0; i < c->n; i++) {
		const struct cfn_change *ch = &c->changes[i];
		bool more = ch->properties.n || (ch->replacement &&
						 strcmp(ch->replacement, "False") != 0);
		printf("  %-6s  %-*s  %-*s", ch->action, id_width, ch->logical_id,
		       more ? type_width : 0, ch->type ? ch->type : "");
		for (size_t k = 0; k < ch->properties.n; k++)
			printf("%s%s", k ? ", " : "  ", ch->properties.items[k].key);
		if (ch->replacement && strcmp(ch->replacement, "True") == 0)
			printf("  (replaced)");
		else if (ch->replacement && strcmp(ch->replacement, "Conditional") == 0)
			printf("  (may be replaced)");
		printf("\n");
	}
	if (!c->n)
		printf("  no resource changes (parameters or tags only)\n");
	fflush(stdout);
}

/* Prints the change set; false when there is nothing to do (the change set
 * is then gone already). A change set that failed otherwise ends ssmbak. */
static bool review_change_set(struct stack_run *r, struct planned_update *p,
			      const char *id, struct cfn_change_set *c)
{
	if (cfn_change_set_is_empty_failure(c)) {
		drop_change_set(r, id);
		printf("Stack %s is up to date (%s): nothing to deploy.\n",
		       p->stack.name, p->stack.status);
		return false;
	}
	if (strcmp(c->status, "CREATE_COMPLETE") != 0) {
		drop_change_set(r, id);
		die(EXIT_FAILURE_RUN, "the change set of stack '%s' failed (%s): %s",
		    p->stack.name, c->status,
		    c->status_reason ? c->status_reason : "no reason given");
	}
	print_changes(&p->stack, c);
	return true;
}

/* y or yes on the terminal; anything else, or end of input, is no. */
static bool confirm(const char *stack)
{
	fprintf(stderr, "Deploy these changes to stack %s? [y/N] ", stack);
	fflush(stderr);
	char answer[16] = "";
	if (!fgets(answer, sizeof(answer), stdin))
		return false;
	answer[strcspn(answer, "\r\n")] = '\0';
	return strcmp(answer, "y") == 0 || strcmp(answer, "Y") == 0 ||
	       strcmp(answer, "yes") == 0;
}

static int stack_diff(struct stack_run *r)
{
	struct planned_update p;
	plan_update(r, &p);
	char *id = NULL;
	struct cfn_change_set c;
	make_change_set(r, &p, &id, &c);
	if (review_change_set(r, &p, id, &c))
		drop_change_set(r, id);
	cfn_change_set_release(&c);
	free(id);
	planned_update_release(&p);
	return EXIT_OK;
}

static int update_central_stack(struct stack_run *r);

/* An organization's NAME is a StackSet and (usually) its central stack:
 * the stack first, through its change set, then every instance. */
static int stack_update(struct stack_run *r)
{
	struct cfn_stack_instance_list instances;
	if (!stack_set_instances(r, &instances))
		return update_central_stack(r);
	int rc = EXIT_OK;
	struct cfn_stack s;
	bool missing;
	struct err e = { 0 };
	if (cfn_describe_stack(&r->ctx, r->o->name, &s, &missing, &e) == 0) {
		cfn_stack_release(&s);
		rc = update_central_stack(r);
	} else if (!missing) {
		die_err(&e);
	} else if (!r->o->yes) {
		printf("StackSet %s: %zu stack instances get this binary and "
		       "template.\n", r->o->name, instances.n);
		if (!confirm(r->o->name))
			rc = EXIT_FAILURE_RUN;
	}
	if (rc == EXIT_OK)
		rc = update_stack_set(r, &instances);
	cfn_stack_instance_list_release(&instances);
	return rc;
}

static int update_central_stack(struct stack_run *r)
{
	struct planned_update p;
	plan_update(r, &p);
	char *id = NULL;
	struct cfn_change_set c;
	make_change_set(r, &p, &id, &c);
	int rc = EXIT_OK;
	if (!review_change_set(r, &p, id, &c)) {
		/* up to date */
	} else if (!r->o->yes && !confirm(p.stack.name)) {
		drop_change_set(r, id);
		fprintf(stderr, "%s: not deployed: stack %s is unchanged\n",
			progname(), p.stack.name);
		rc = EXIT_FAILURE_RUN;
	} else {
		char *baseline = newest_event(r, p.stack.id);
		struct err e = { 0 };
		if (cfn_execute_change_set(&r->ctx, id, &e) < 0)
			die_err(&e);
		rc = finish(r, p.stack.id, baseline, "UPDATE_COMPLETE");
	}
	cfn_change_set_release(&c);
	free(id);
	planned_update_release(&p);
	return rc;
}

/* Versions that are backups: anything but ssmbak's own bookkeeping. */
static size_t count_backups(const struct s3_version_list *l)
{
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++)
		n += strncmp(l->items[i].key, RECORD_PREFIX,
			     strlen(RECORD_PREFIX)) != 0;
	return n;
}

/* Every version and delete marker, then the bucket. Object Lock in
 * governance mode yields to x-amz-bypass-governance-retention.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html#object-lock-managing-bypass */
static int delete_bucket(struct stack_run *r, const char *bucket,
			 struct s3_version_list *l)
{
	struct aws_call *calls = xcalloc(l->n + 1, sizeof(*calls));
	struct aws_call **batch = xcalloc(l->n + 1, sizeof(*batch));
	for (size_t i = 0; i < l->n; i++) {
		char *id = aws_uri_encode(l->items[i].version_id, false);
		if (!id || s3_prepare_delete_object(&r->ctx, &calls[i], bucket,
						    l->items[i].key) < 0 ||
		    aws_headers_add(&calls[i].req.headers,
				    "x-amz-bypass-governance-retention",
				    "true") < 0)
			die(EXIT_FAILURE_RUN, "out of memory");
		free(calls[i].req.query);
		calls[i].req.query = xasprintf("versionId=%s", id);
		free(id);
		batch[i] = &calls[i];
	}
	size_t failed = aws_perform(&r->ctx, batch, l->n);
	int rc = 0;
	for (size_t i = 0; i < l->n; i++) {
		char line[ERR_LINE_MAX];
		if (calls[i].err.kind != ERR_NONE && rc == 0) {
			escape_fprintf(stderr, "%s: %s\n", progname(),
				err_line(&calls[i].err, line, sizeof(line)));
			rc = -1;
		}
		aws_call_release(&calls[i]);
	}
	free(calls);
	free(batch);
	if (failed)
		return -1;
	struct aws_call call;
	struct err e = { 0 };
	if (s3_prepare_bucket_call(&r->ctx, &call, "DELETE", "DeleteBucket",
				   bucket, NULL) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	rc = aws_perform_one(&r->ctx, &call, &e);
	aws_call_release(&call);
	if (rc < 0) {
		char line[ERR_LINE_MAX];
		escape_fprintf(stderr, "%s: %s\n", progname(),
			err_line(&e, line, sizeof(line)));
	}
	return rc;
}

/* The stack keeps its dead-letter queues (DeletionPolicy Retain): they
 * may hold changes not yet recorded. Once it is gone, an empty one goes
 * too; one with messages stays, and is named. */
static int settle_dead_letter_queues(struct stack_run *r, const struct cfn_stack *s)
{
	static const char *const outputs[] = { "DeadLetterQueueUrl",
					       "EventDeadLetterQueueUrl" };
	int rc = EXIT_OK;
	for (size_t i = 0; i < sizeof(outputs) / sizeof(outputs[0]); i++) {
		const char *url = cfn_pairs_get(&s->outputs, outputs[i]);
		long count = 0;
		struct err e = { 0 };
		if (!url)
			continue;
		if (sqs_queue_messages(&r->ctx, url, &count, &e) < 0 ||
		    (count == 0 && sqs_delete_queue(&r->ctx, url, &e) < 0)) {
			char line[ERR_LINE_MAX];
			fprintf(stderr, "%s: %s\n", progname(),
				err_line(&e, line, sizeof(line)));
			rc = EXIT_FAILURE_RUN;
		} else if (count) {
			printf("Kept the queue %s: %ld change%s not yet recorded "
			       "(redrive them to a stack's queue, or delete it).\n",
			       url, count, count == 1 ? "" : "s");
		}
	}
	return rc;
}

static int stack_delete(struct stack_run *r)
{
	struct cfn_stack_instance_list instances;
	if (stack_set_instances(r, &instances)) {
		int rc = delete_stack_set(r, &instances);
		cfn_stack_instance_list_release(&instances);
		bool missing;
		struct cfn_stack central;
		struct err e = { 0 };
		if (rc != EXIT_OK)
			return rc;
		if (cfn_describe_stack(&r->ctx, r->o->name, &central, &missing, &e) < 0) {
			if (missing)
				return EXIT_OK; /* the central bucket was someone else's */
			die_err(&e);
		}
		cfn_stack_release(&central);
	}
	struct cfn_stack s;
	describe_or_die(r, &s);
	char *bucket = NULL;
	struct s3_version_list versions = { 0 };
	struct err e = { 0 };
	if (r->o->delete_bucket) {
		const char *b = cfn_pairs_get(&s.outputs, "BucketName");
		if (!b)
			die(EXIT_FAILURE_RUN, "stack '%s' (%s) names no bucket: "
					      "nothing for --delete-bucket", s.name,
			    s.status);
		bucket = xstrdup(b);
		if (s3_list_versions(&r->ctx, bucket, "", &versions, &e) < 0)
			die_err(&e);
		size_t backups = count_backups(&versions);
		if (backups && !r->o->force)
			die(EXIT_FAILURE_RUN, "bucket %s holds %zu backup "
					      "version%s: not deleted (nothing was); "
					      "--force deletes them with it",
			    bucket, backups, backups == 1 ? "" : "s");
	}
	char *baseline = newest_event(r, s.id);
	if (cfn_delete_stack(&r->ctx, s.id, &e) < 0)
		die_err(&e);
	int rc = finish(r, s.id, baseline, "DELETE_COMPLETE");
	if (rc == EXIT_OK)
		rc = settle_dead_letter_queues(r, &s);
	if (rc == EXIT_OK && bucket) {
		/* The stack kept the bucket (DeletionPolicy Retain); versions
		 * written while the stack was going are in a fresh listing. */
		s3_version_list_release(&versions);
		if (s3_list_versions(&r->ctx, bucket, "", &versions, &e) < 0)
			die_err(&e);
		if (delete_bucket(r, bucket, &versions) < 0)
			rc = EXIT_FAILURE_RUN;
		else
			printf("Deleted the bucket %s.\n", bucket);
	} else if (rc == EXIT_OK) {
		const char *b = cfn_pairs_get(&s.outputs, "BucketName");
		if (b)
			printf("Stack %s is deleted; its bucket %s is kept "
			       "with every backup.\n", s.name, b);
	}
	s3_version_list_release(&versions);
	free(bucket);
	cfn_stack_release(&s);
	return rc;
}

/* --- reading --- */

/* One JSON array on stdout, as every command's --output json prints it
 * (ssmbak(1) CONVENTIONS); takes arr. */
static void print_json_array(json_t *arr)
{
	if (json_print_array(arr) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
}

static json_t *stack_json(const struct cfn_stack *s)
{
	json_t *o = json_object();
	json_set_string_if(o, "name", s->name);
	json_set_string_if(o, "kind", "stack");
	json_set_string_if(o, "status", s->status);
	json_set_string_if(o, "status_reason", s->status_reason);
	json_set_string_if(o, "stack_id", s->id);
	return o;
}

static json_t *instance_json(const char *set, const struct cfn_stack_instance *i)
{
	json_t *o = json_object();
	json_set_string_if(o, "name", set);
	json_set_string_if(o, "kind", "stack_instance");
	json_set_string_if(o, "account", i->account);
	json_set_string_if(o, "region", i->region);
	json_set_string_if(o, "status", i->status);
	json_set_string_if(o, "detailed_status", i->detailed_status);
	json_set_string_if(o, "organizational_unit", i->ou);
	json_set_string_if(o, "status_reason", i->reason);
	json_set_string_if(o, "stack_id", i->stack_id);
	return o;
}

static json_t *event_json(const struct cfn_event *ev)
{
	char when[32];
	time_format_iso((time_t)ev->timestamp, when);
	json_t *o = json_object();
	json_set_string_if(o, "event_time", when);
	json_set_string_if(o, "name", ev->logical_id);
	json_set_string_if(o, "physical_id", ev->physical_id);
	json_set_string_if(o, "type", ev->type);
	json_set_string_if(o, "status", ev->status);
	json_set_string_if(o, "status_reason", ev->reason && *ev->reason ? ev->reason : NULL);
	return o;
}

/* status: the stack's status line, then the StackSet's instances. */
static void print_status_text(const char *name, const struct cfn_stack *s,
			      const struct cfn_stack_instance_list *instances)
{
	if (s)
		escape_fprintf(stdout, "%s%s%s\n", s->status, s->status_reason ? "  " : "",
			       s->status_reason ? s->status_reason : "");
	if (instances) {
		printf("StackSet %s: %zu stack instance%s\n", name, instances->n,
		       instances->n == 1 ? "" : "s");
		print_instances(instances);
	}
}

/* status --output json: the stack, then the StackSet's instances. */
static void print_status_json(const char *name, const struct cfn_stack *s,
			      const struct cfn_stack_instance_list *instances)
{
	json_t *arr = json_array();
	if (s)
		json_array_append_new(arr, stack_json(s));
	for (size_t i = 0; instances && i < instances->n; i++)
		json_array_append_new(arr, instance_json(name, &instances->items[i]));
	print_json_array(arr);
}

/* The stack's status, and the StackSet's instances when NAME is also an
 * organization's StackSet (whose central stack may be elsewhere). */
static int stack_status(struct stack_run *r)
{
	struct cfn_stack_instance_list instances;
	bool is_set = stack_set_instances(r, &instances);
	struct cfn_stack s;
	bool missing;
	struct err e = { 0 };
	bool found = cfn_describe_stack(&r->ctx, r->o->name, &s, &missing, &e) == 0;
	if (!found && !missing)
		die_err(&e);
	if (!found && !is_set)
		die(EXIT_FAILURE_RUN, "no stack '%s' in %s", r->o->name, r->ctx.region);
	if (r->o->common.output == CLI_OUTPUT_JSON)
		print_status_json(r->o->name, found ? &s : NULL, is_set ? &instances : NULL);
	else
		print_status_text(r->o->name, found ? &s : NULL, is_set ? &instances : NULL);
	if (found)
		cfn_stack_release(&s);
	if (is_set)
		cfn_stack_instance_list_release(&instances);
	return EXIT_OK;
}

/* outputs --output json: one object an output, name and value. */
static void print_outputs_json(const struct cfn_pairs *outputs)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < outputs->n; i++) {
		json_t *o = json_object();
		json_set_string_if(o, "name", outputs->items[i].key);
		json_set_string_if(o, "value", outputs->items[i].value);
		json_array_append_new(arr, o);
	}
	print_json_array(arr);
}

/* events --output json: oldest first, as the table (AWS answers newest
 * first). */
static void print_events_json(const struct cfn_event_list *l)
{
	json_t *arr = json_array();
	for (size_t i = l->n; i-- > 0;)
		json_array_append_new(arr, event_json(&l->items[i]));
	print_json_array(arr);
}

static int stack_show(struct stack_run *r)
{
	if (r->o->action == ACT_STATUS)
		return stack_status(r);
	struct cfn_stack s;
	describe_or_die(r, &s);
	switch (r->o->action) {
	case ACT_OUTPUTS: {
		if (r->o->common.output == CLI_OUTPUT_JSON) {
			print_outputs_json(&s.outputs);
			break;
		}
		int width = 0;
		for (size_t i = 0; i < s.outputs.n; i++)
			if ((int)strlen(s.outputs.items[i].key) > width)
				width = (int)strlen(s.outputs.items[i].key);
		for (size_t i = 0; i < s.outputs.n; i++)
			escape_fprintf(stdout, "%-*s  %s\n", width, s.outputs.items[i].key,
			       s.outputs.items[i].value);
		break;
	}
	case ACT_BUCKETNAME:
		printf("%s\n", output_or_die(&s, "BucketName"));
		break;
	case ACT_LAMBDANAME:
		printf("%s\n", output_or_die(&s, "LambdaName"));
		break;
	case ACT_REGION:
		printf("%s\n", r->ctx.region);
		break;
	case ACT_EVENTS: {
		struct cfn_event_list l = { 0 };
		struct err e = { 0 };
		if (cfn_describe_events(&r->ctx, s.id, NULL, false, &l, &e) < 0)
			die_err(&e);
		if (r->o->common.output == CLI_OUTPUT_JSON)
			print_events_json(&l);
		else
			for (size_t i = l.n; i-- > 0;)
				print_event(&l.items[i]);
		cfn_event_list_release(&l);
		break;
	}
	default:
		break;
	}
	cfn_stack_release(&s);
	return EXIT_OK;
}

int cmd_stack(int argc, char **argv)
{
	static struct stack_opts o;
	memset(&o, 0, sizeof(o));
	parse_args(argc, argv, &o);
	if (o.action == ACT_TEMPLATE) {
		fputs(template_header, stdout);
		fputs(ssmbak_template_start, stdout);
		return EXIT_OK;
	}
	struct stack_run r = { &o, { 0 } };
	cli_aws_init(&r.ctx, &o.common);
	int rc;
	switch (o.action) {
	case ACT_CREATE:
		rc = o.org_units.n ? stack_create_org(&r) : create_plain_stack(&r);
		break;
	case ACT_DIFF: rc = stack_diff(&r); break;
	case ACT_UPDATE: rc = stack_update(&r); break;
	case ACT_DELETE: rc = stack_delete(&r); break;
	default: rc = stack_show(&r); break;
	}
	aws_ctx_release(&r.ctx);
	cfn_pairs_release(&o.parameters);
	cfn_pairs_release(&o.tags);
	name_list_release(&o.org_units);
	name_list_release(&o.regions);
	return rc;
}
