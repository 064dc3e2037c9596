/* lib/cfn and lib/org decoders: the answers CloudFormation and
 * Organizations give (shapes from API_DescribeChangeSet.html,
 * API_ListStackInstances.html, API_DescribeOrganization.html). */
#include <stdlib.h>
#include <string.h>

#include "../../lib/cfn.h"
#include "../../lib/org.h"
#include "unit.h"

static const char change_set_xml[] =
	"<DescribeChangeSetResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">"
	"<DescribeChangeSetResult>"
	"<ChangeSetId>arn:aws:cloudformation:us-east-1:1:changeSet/ssmbak-1/x</ChangeSetId>"
	"<Status>CREATE_COMPLETE</Status><ExecutionStatus>AVAILABLE</ExecutionStatus>"
	"<Changes>"
	"<member><Type>Resource</Type><ResourceChange><Action>Modify</Action>"
	"<LogicalResourceId>Function</LogicalResourceId>"
	"<PhysicalResourceId>demo-Function-X</PhysicalResourceId>"
	"<ResourceType>AWS::Lambda::Function</ResourceType><Replacement>False</Replacement>"
	"<Scope><member>Properties</member></Scope><Details>"
	"<member><Target><Attribute>Properties</Attribute><Name>Code</Name>"
	"<RequiresRecreation>Never</RequiresRecreation></Target></member>"
	"<member><Target><Attribute>Properties</Attribute><Name>Environment</Name>"
	"<RequiresRecreation>Never</RequiresRecreation></Target></member>"
	"</Details></ResourceChange></member>"
	"<member><Type>Resource</Type><ResourceChange><Action>Add</Action>"
	"<LogicalResourceId>Alarm</LogicalResourceId><PhysicalResourceId/>"
	"<ResourceType>AWS::CloudWatch::Alarm</ResourceType></ResourceChange></member>"
	"</Changes></DescribeChangeSetResult></DescribeChangeSetResponse>";

static void change_set(void)
{
	struct cfn_change_set c;
	struct err e = { 0 };
	EXPECT_LONG("parses", 0, cfn_parse_change_set(change_set_xml,
						      strlen(change_set_xml), &c, &e));
	EXPECT_STR("status", "CREATE_COMPLETE", c.status);
	EXPECT_STR("execution", "AVAILABLE", c.execution_status);
	EXPECT_LONG("changes", 2, (long)c.n);
	EXPECT_STR("action", "Modify", c.changes[0].action);
	EXPECT_STR("replacement", "False", c.changes[0].replacement);
	EXPECT_LONG("properties", 2, (long)c.changes[0].properties.n);
	EXPECT_STR("property", "Environment", c.changes[0].properties.items[1].key);
	EXPECT_TRUE("an Add has no physical id", c.changes[1].physical_id == NULL);
	EXPECT_TRUE("not an empty failure", !cfn_change_set_is_empty_failure(&c));
	cfn_change_set_release(&c);

	static const char failed[] =
		"<DescribeChangeSetResponse><DescribeChangeSetResult>"
		"<Status>FAILED</Status><StatusReason>The submitted information didn't "
		"contain changes. Submit different information to create a change "
		"set.</StatusReason><Changes/></DescribeChangeSetResult>"
		"</DescribeChangeSetResponse>";
	EXPECT_LONG("failed parses", 0, cfn_parse_change_set(failed, strlen(failed), &c, &e));
	EXPECT_TRUE("nothing to change", cfn_change_set_is_empty_failure(&c));
	cfn_change_set_release(&c);

	static const char broken[] = "<DescribeChangeSetResponse/>";
	EXPECT_LONG("no result", -1, cfn_parse_change_set(broken, strlen(broken), &c, &e));
}

static void stack_instances(void)
{
	static const char xml[] =
		"<ListStackInstancesResponse><ListStackInstancesResult><Summaries>"
		"<member><Account>111111111111</Account><Region>eu-west-1</Region>"
		"<Status>CURRENT</Status><StackInstanceStatus><DetailedStatus>SUCCEEDED"
		"</DetailedStatus></StackInstanceStatus>"
		"<OrganizationalUnitId>ou-ab12-cdef3456</OrganizationalUnitId></member>"
		"<member><Account>222222222222</Account><Region>us-east-1</Region>"
		"<Status>OUTDATED</Status><StatusReason>no role</StatusReason></member>"
		"</Summaries><NextToken>page2</NextToken></ListStackInstancesResult>"
		"</ListStackInstancesResponse>";
	struct cfn_stack_instance_list l = { 0 };
	char *token = NULL;
	struct err e = { 0 };
	EXPECT_LONG("parses", 0, cfn_parse_stack_instances(xml, strlen(xml), &l, &token, &e));
	EXPECT_LONG("two", 2, (long)l.n);
	EXPECT_STR("account", "111111111111", l.items[0].account);
	EXPECT_STR("detailed", "SUCCEEDED", l.items[0].detailed_status);
	EXPECT_STR("ou", "ou-ab12-cdef3456", l.items[0].ou);
	EXPECT_STR("reason", "no role", l.items[1].reason);
	EXPECT_TRUE("no detail", l.items[1].detailed_status == NULL);
	EXPECT_STR("next page", "page2", token);
	free(token);
	cfn_stack_instance_list_release(&l);
}

static void organization(void)
{
	static const char json[] =
		"{\"Organization\": {\"Id\": \"o-exampleorgid\", \"Arn\": \"arn\", "
		"\"FeatureSet\": \"ALL\", \"MasterAccountId\": \"111111111111\"}}";
	struct org_organization o;
	struct err e = { 0 };
	EXPECT_LONG("parses", 0, org_parse_organization(json, strlen(json), &o, &e));
	EXPECT_STR("id", "o-exampleorgid", o.id);
	EXPECT_STR("management", "111111111111", o.management_account);
	org_organization_release(&o);
	static const char none[] = "{\"Organization\": {}}";
	EXPECT_LONG("no id", -1, org_parse_organization(none, strlen(none), &o, &e));
	EXPECT_LONG("not json", -1, org_parse_organization("x", 1, &o, &e));
}

void test_cfn(void)
{
	change_set();
	stack_instances();
	organization();
}
