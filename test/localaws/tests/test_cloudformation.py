"""CloudFormation: templates executed for real, refused where AWS refuses.

Small templates of SSM parameters, queues and buckets show the engine;
test/e2e/test_stack.py runs ssmbak's own template.yaml end to end.
"""
import json
import pathlib
import re
import time

import pytest
from botocore.exceptions import ClientError

IAM_ROLE = """
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
"""


@pytest.fixture
def cfn(client):
    return client("cloudformation")


@pytest.fixture
def sqs(client):
    return client("sqs")


def error_of(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def settle(cfn, stack, seconds=30):
    """The stack once it is no longer moving."""
    deadline = time.monotonic() + seconds
    while True:
        described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        if not described["StackStatus"].endswith("_IN_PROGRESS"):
            return described
        assert time.monotonic() < deadline, described["StackStatus"]
        time.sleep(0.05)


def events(cfn, stack):
    """(LogicalResourceId, ResourceStatus, ResourceStatusReason) oldest first."""
    pages = cfn.get_paginator("describe_stack_events").paginate(StackName=stack)
    found = [e for page in pages for e in page["StackEvents"]]
    return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason", ""))
            for e in reversed(found)]


def outputs(described):
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def create(cfn, name, body, parameters=None, **extra):
    cfn.create_stack(StackName=name, TemplateBody=body,
                     Parameters=[{"ParameterKey": k, "ParameterValue": v}
                                 for k, v in (parameters or {}).items()], **extra)
    return settle(cfn, name)


INTRINSICS = """
AWSTemplateFormatVersion: 2010-09-09
Parameters:
  Env: {Type: String, AllowedValues: [dev, prod], Default: dev}
  Size: {Type: Number, Default: 3, MinValue: 1}
  Zones: {Type: CommaDelimitedList, Default: "a,b,c"}
Mappings:
  Tier: {dev: {Name: small}, prod: {Name: large}}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  NotProd: !Not [!Condition IsProd]
  Both: !And [!Condition NotProd, !Equals [!Ref Size, "3"]]
  Either: !Or [!Condition IsProd, !Condition Both]
Resources:
  First:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Name: !Sub "/${AWS::StackName}/first"
      Value: !Join ["-", [!Ref Env, !FindInMap [Tier, !Ref Env, Name], !Select [1, !Ref Zones]]]
  Second:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Name: !Sub "/${AWS::StackName}/second"
      Value: !Sub
        - "${Value}|${First.Value}|${AWS::Region}|${AWS::AccountId}|${!Literal}|${Part}"
        - Part: !Select [0, !Split [":", "x:y"]]
      Description: !If [IsProd, production, !Ref AWS::NoValue]
  OnlyProd:
    Type: AWS::SSM::Parameter
    Condition: IsProd
    Properties: {Type: String, Name: !Sub "/${AWS::StackName}/prod", Value: p}
  WhenBoth:
    Type: AWS::SSM::Parameter
    Condition: Either
    Properties: {Type: String, Name: !Sub "/${AWS::StackName}/both", Value: !Ref First}
Outputs:
  FirstName: {Value: !Ref First}
  Stack: {Value: !Ref AWS::StackId}
  Prod: {Condition: IsProd, Value: yes}
"""


def test_intrinsics_conditions_and_pseudo_parameters(cfn, ssm, unique):
    name = unique("intr")
    described = create(cfn, name, INTRINSICS.replace("${Value}", name))
    assert described["StackStatus"] == "CREATE_COMPLETE"
    assert ssm.get_parameter(Name=f"/{name}/first")["Parameter"]["Value"] == "dev-small-b"
    second = ssm.get_parameter(Name=f"/{name}/second")["Parameter"]
    assert second["Value"] == f"{name}|dev-small-b|us-east-1|000000000000|${{Literal}}|x"
    history = ssm.get_parameter_history(Name=f"/{name}/second")["Parameters"]
    assert "Description" not in history[0], "!Ref AWS::NoValue removes the property"
    assert ssm.get_parameter(Name=f"/{name}/both")["Parameter"]["Value"] == f"/{name}/first"
    with pytest.raises(ClientError):
        ssm.get_parameter(Name=f"/{name}/prod")
    assert outputs(described) == {"FirstName": f"/{name}/first", "Stack": described["StackId"]}
    assert re.fullmatch(rf"arn:aws:cloudformation:us-east-1:000000000000:stack/{name}/[0-9a-f-]{{36}}",
                        described["StackId"])
    assert {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]} == \
        {"Env": "dev", "Size": "3", "Zones": "a,b,c"}


def test_events_follow_dependency_order_with_aws_statuses(cfn, unique):
    name = unique("order")
    body = """
Resources:
  Late:
    Type: AWS::SSM::Parameter
    DependsOn: Early
    Properties: {Type: String, Value: !GetAtt Queue.QueueName}
  Queue:
    Type: AWS::SQS::Queue
  Early:
    Type: AWS::SSM::Parameter
    Properties: {Type: String, Value: !Ref Queue}
  Bucket:
    Type: AWS::S3::Bucket
"""
    create(cfn, name, body)
    seen = events(cfn, name)
    assert seen[0] == (name, "CREATE_IN_PROGRESS", "User Initiated")
    assert seen[-1] == (name, "CREATE_COMPLETE", "")
    completed = [logical for logical, status, _ in seen if status == "CREATE_COMPLETE"]
    assert completed.index("Queue") < completed.index("Early") < completed.index("Late")
    queue = [e for e in seen if e[0] == "Queue"]
    assert queue == [("Queue", "CREATE_IN_PROGRESS", ""),
                     ("Queue", "CREATE_IN_PROGRESS", "Resource creation Initiated"),
                     ("Queue", "CREATE_COMPLETE", "")]
    resources = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                 for r in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]}
    # Physical names as CloudFormation makes them; buckets in lowercase.
    assert re.fullmatch(rf"http://127\.0\.0\.1:\d+/000000000000/{name}-Queue-[A-Z0-9]{{13}}",
                        resources["Queue"])
    assert re.fullmatch(rf"{name}-bucket-[a-z0-9]{{13}}", resources["Bucket"])
    assert re.fullmatch(r"CFN-Early-\w{12}", resources["Early"])


REFUSED = [
    ("unknown type", "  X:\n    Type: AWS::SQS::Queueue\n", "ValidationError",
     "Template format error: Unrecognized resource types: [AWS::SQS::Queueue]"),
    ("unknown attribute", "  Q:\n    Type: AWS::SQS::Queue\n  P:\n    Type: AWS::SSM::Parameter\n"
     "    Properties: {Type: String, Value: !GetAtt Q.Url}\n", "ValidationError",
     "Template error: resource Q does not support attribute type Url in Fn::GetAtt"),
    ("GetAtt of nothing", "  P:\n    Type: AWS::SSM::Parameter\n"
     "    Properties: {Type: String, Value: !GetAtt Nope.Arn}\n", "ValidationError",
     "Template error: instance of Fn::GetAtt references undefined resource Nope"),
    ("Ref to nothing", "  P:\n    Type: AWS::SSM::Parameter\n"
     "    Properties: {Type: String, Value: !Sub '${Nope}'}\n", "ValidationError",
     "Template format error: Unresolved resource dependencies [Nope] in the Resources block "
     "of the template"),
    ("DependsOn nothing", "  Q:\n    Type: AWS::SQS::Queue\n    DependsOn: Nope\n",
     "ValidationError", "Template format error: Unresolved resource dependencies [Nope] in the "
     "Resources block of the template"),
    ("cycle", "  A:\n    Type: AWS::SQS::Queue\n    DependsOn: B\n  B:\n    Type: AWS::SQS::Queue\n"
     "    DependsOn: A\n", "ValidationError", "Circular dependency between resources: [A, B]"),
    ("bad attribute", "  Q:\n    Type: AWS::SQS::Queue\n    Deletion: Retain\n",
     "ValidationError", "Invalid template resource property 'Deletion'"),
    ("IAM without capability", IAM_ROLE, "InsufficientCapabilitiesException",
     "Requires capabilities : [CAPABILITY_IAM]"),
    ("named IAM", IAM_ROLE + "      RoleName: fixed\n", "InsufficientCapabilitiesException",
     "Requires capabilities : [CAPABILITY_NAMED_IAM]"),
]


@pytest.mark.parametrize("case, resources, code, message", REFUSED, ids=[c[0] for c in REFUSED])
def test_templates_aws_refuses_are_refused_before_anything_starts(cfn, unique, case, resources,
                                                                  code, message):
    name = unique("bad")
    with pytest.raises(ClientError) as excinfo:
        cfn.create_stack(StackName=name, TemplateBody="Resources:\n" + resources)
    assert error_of(excinfo) == (code, message)
    with pytest.raises(ClientError) as excinfo:
        cfn.describe_stacks(StackName=name)
    assert error_of(excinfo) == ("ValidationError", f"Stack with id {name} does not exist")


PARAMETERS = """
Parameters:
  Level: {Type: String, AllowedValues: [low, high]}
  Days: {Type: Number, Default: 1, MinValue: 0, MaxValue: 10}
Resources:
  Q:
    Type: AWS::SQS::Queue
"""


@pytest.mark.parametrize("given, message", [
    ({}, "Parameters: [Level] must have values"),
    ({"Level": "low", "Nope": "x"}, "Parameters: [Nope] do not exist in the template"),
    ({"Level": "middle"}, "Parameter 'Level' must be one of AllowedValues"),
    ({"Level": "low", "Days": "many"}, "Parameter 'Days' must be a number"),
    ({"Level": "low", "Days": "-1"}, "Parameter 'Days' must be a number not less than 0"),
    ({"Level": "low", "Days": "11"}, "Parameter 'Days' must be a number not greater than 10"),
])
def test_parameters_are_checked(cfn, unique, given, message):
    with pytest.raises(ClientError) as excinfo:
        create(cfn, unique("par"), PARAMETERS, given)
    assert error_of(excinfo) == ("ValidationError", message)


@pytest.mark.parametrize("properties, message", [
    ("      Retention: 5\n", "#: extraneous key [Retention] is not permitted"),
    ("      VisibilityTimeout: long\n", "#/VisibilityTimeout: expected type: Integer, found: String"),
    ("      Tags: [{Key: a}]\n", "#/Tags/0: required key [Value] not found"),
])
def test_properties_are_checked_when_provisioned_and_roll_back(cfn, sqs, unique, properties,
                                                               message):
    name = unique("prop")
    body = ("Resources:\n  Good:\n    Type: AWS::SQS::Queue\n"
            "  Bad:\n    Type: AWS::SQS::Queue\n    DependsOn: Good\n    Properties:\n" + properties)
    described = create(cfn, name, body)
    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    assert described["StackStatusReason"] == \
        "The following resource(s) failed to create: [Bad]. Rollback requested by user."
    seen = events(cfn, name)
    assert ("Bad", "CREATE_FAILED",
            f"Properties validation failed for resource Bad with message: {message}") in seen
    assert seen[-3:] == [("Good", "DELETE_IN_PROGRESS", ""), ("Good", "DELETE_COMPLETE", ""),
                         (name, "ROLLBACK_COMPLETE", "")]
    assert not [u for u in sqs.list_queues().get("QueueUrls", []) if name in u]
    with pytest.raises(ClientError) as excinfo:
        cfn.update_stack(StackName=name, TemplateBody=body)
    assert "is in ROLLBACK_COMPLETE state and can not be updated" in error_of(excinfo)[1]
    cfn.delete_stack(StackName=name)
    assert settle(cfn, described["StackId"])["StackStatus"] == "DELETE_COMPLETE"


def test_a_failing_handler_is_reported_as_the_registry_reports_it(cfn, ssm, unique):
    taken = "/" + unique("taken")
    ssm.put_parameter(Name=taken, Value="mine", Type="String")
    name = unique("taken")
    described = create(cfn, name, f"Resources:\n  P:\n    Type: AWS::SSM::Parameter\n"
                                  f"    Properties: {{Type: String, Name: {taken}, Value: x}}\n")
    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    reason = [r for logical, status, r in events(cfn, name) if status == "CREATE_FAILED"][0]
    assert re.fullmatch(r'Resource handler returned message: "Resource of type '
                        rf"'AWS::SSM::Parameter' with identifier '{taken}' already exists.\" "
                        r"\(RequestToken: [0-9a-f-]{36}, HandlerErrorCode: AlreadyExists\)", reason)
    assert ssm.get_parameter(Name=taken)["Parameter"]["Value"] == "mine"


UPDATABLE = """
Parameters:
  Value: {Type: String}
  Name: {Type: String}
  Extra: {Type: String, Default: "no"}
Conditions:
  WithExtra: !Equals [!Ref Extra, "yes"]
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties: {VisibilityTimeout: 30}
  Named:
    Type: AWS::SSM::Parameter
    Properties: {Type: String, Name: !Ref Name, Value: !Ref Value}
  Extra:
    Type: AWS::SSM::Parameter
    Condition: WithExtra
    Properties: {Type: String, Value: !GetAtt Queue.Arn}
Outputs:
  Value: {Value: !GetAtt Named.Value}
"""


def test_updates_in_place_replace_add_remove_and_roll_back(cfn, ssm, sqs, unique):
    name = unique("upd")
    first, second = f"/{name}/a", f"/{name}/b"
    stack_id = create(cfn, name, UPDATABLE, {"Value": "1", "Name": first})["StackId"]

    def update(**parameters):
        cfn.update_stack(StackName=name, TemplateBody=UPDATABLE,
                         Parameters=[{"ParameterKey": k, "ParameterValue": v}
                                     for k, v in parameters.items()])
        return settle(cfn, name)

    # In place: a mutable property.
    described = update(Value="2", Name=first)
    assert described["StackStatus"] == "UPDATE_COMPLETE" and outputs(described) == {"Value": "2"}
    assert ssm.get_parameter(Name=first)["Parameter"]["Version"] == 2
    # Nothing changed: AWS's ValidationError.
    with pytest.raises(ClientError) as excinfo:
        update(Value="2", Name=first)
    assert error_of(excinfo) == ("ValidationError", "No updates are to be performed.")
    # Replacement: Name is immutable, so a new parameter, then the old one goes.
    before = len(events(cfn, name))
    described = update(Value="2", Name=second, Extra="yes")
    assert described["StackStatus"] == "UPDATE_COMPLETE"
    assert ssm.get_parameter(Name=second)["Parameter"]["Value"] == "2"
    with pytest.raises(ClientError):
        ssm.get_parameter(Name=first)
    seen = events(cfn, name)[before:]
    assert ("Named", "UPDATE_IN_PROGRESS", "Requested update requires the creation of a new "
            "physical resource; hence creating one.") in seen
    assert seen.index((name, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "")) < \
        seen.index(("Named", "DELETE_COMPLETE", ""))
    assert ("Extra", "CREATE_COMPLETE", "") in seen
    extra = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Extra")
    extra_name = extra["StackResourceDetail"]["PhysicalResourceId"]
    assert ssm.get_parameter(Name=extra_name)["Parameter"]["Value"].startswith("arn:aws:sqs:")
    # A resource whose condition turns false is deleted.
    described = update(Value="2", Name=second, Extra="no")
    with pytest.raises(ClientError):
        ssm.get_parameter(Name=extra_name)
    # A failed update rolls back to the old values.
    ssm.put_parameter(Name=f"/{name}/c", Value="taken", Type="String")
    described = update(Value="3", Name=f"/{name}/c")
    assert described["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert described["StackStatusReason"] == "The following resource(s) failed to update: [Named]. "
    assert outputs(described) == {"Value": "2"}
    assert {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}["Name"] == second
    assert ssm.get_parameter(Name=second)["Parameter"]["Value"] == "2"
    assert ssm.get_parameter(Name=f"/{name}/c")["Parameter"]["Value"] == "taken"
    # UsePreviousValue keeps a value; the stack can be updated after a rollback.
    cfn.update_stack(StackName=name, UsePreviousTemplate=True,
                     Parameters=[{"ParameterKey": "Value", "ParameterValue": "4"},
                                 {"ParameterKey": "Name", "UsePreviousValue": True}])
    assert outputs(settle(cfn, name)) == {"Value": "4"}
    cfn.delete_stack(StackName=name)
    assert settle(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"


def test_delete_keeps_what_is_retained_and_deleted_stacks_answer_by_id(cfn, s3, sqs, unique):
    name = unique("del")
    body = """
Resources:
  Kept:
    Type: AWS::S3::Bucket
    DeletionPolicy: Retain
    Properties: {VersioningConfiguration: {Status: Enabled}}
  Gone:
    Type: AWS::SQS::Queue
Outputs:
  Bucket: {Value: !Ref Kept}
  Arn: {Value: !GetAtt Kept.Arn}
"""
    described = create(cfn, name, body)
    bucket = outputs(described)["Bucket"]
    assert outputs(described)["Arn"] == f"arn:aws:s3:::{bucket}"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    cfn.delete_stack(StackName=name)
    deleted = settle(cfn, described["StackId"])
    assert deleted["StackStatus"] == "DELETE_COMPLETE" and "DeletionTime" in deleted
    assert (("Kept", "DELETE_SKIPPED", "") in events(cfn, described["StackId"]))
    s3.head_bucket(Bucket=bucket)
    assert not [u for u in sqs.list_queues().get("QueueUrls", []) if name in u]
    with pytest.raises(ClientError) as excinfo:
        cfn.describe_stacks(StackName=name)
    assert error_of(excinfo) == ("ValidationError", f"Stack with id {name} does not exist")
    assert name not in [s["StackName"] for s in cfn.describe_stacks()["Stacks"]]
    cfn.delete_stack(StackName=name)   # no stack: still a success
    s3.delete_bucket(Bucket=bucket)


def test_already_exists_template_and_resources(cfn, unique):
    name = unique("dup")
    body = "Description: two queues\nResources:\n  A:\n    Type: AWS::SQS::Queue\n"
    create(cfn, name, body, Tags=[{"Key": "k", "Value": "v"}])
    with pytest.raises(ClientError) as excinfo:
        cfn.create_stack(StackName=name, TemplateBody=body)
    assert error_of(excinfo) == ("AlreadyExistsException", f"Stack [{name}] already exists")
    assert cfn.get_template(StackName=name)["TemplateBody"] == body
    described = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert described["Description"] == "two queues"
    assert described["Tags"] == [{"Key": "k", "Value": "v"}]
    resources = cfn.describe_stack_resources(StackName=name)["StackResources"]
    assert [(r["LogicalResourceId"], r["ResourceType"], r["ResourceStatus"]) for r in resources] == \
        [("A", "AWS::SQS::Queue", "CREATE_COMPLETE")]
    cfn.delete_stack(StackName=name)


def test_capabilities_let_iam_through(cfn, unique):
    name = unique("iam")
    body = "Resources:\n" + IAM_ROLE + "Outputs:\n  Arn: {Value: !GetAtt Role.Arn}\n"
    described = create(cfn, name, body, Capabilities=["CAPABILITY_IAM"])
    assert re.fullmatch(rf"arn:aws:iam::000000000000:role/{name}-Role-[A-Z0-9]{{13}}",
                        outputs(described)["Arn"])
    assert described["Capabilities"] == ["CAPABILITY_IAM"]
    cfn.delete_stack(StackName=name)


def test_awscli_creates_waits_and_reads_events(aws, unique, tmp_path):
    name = unique("cli")
    template = tmp_path / "t.yaml"
    template.write_text("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n"
                        "Outputs:\n  Url: {Value: !Ref Q}\n")
    stack_id = aws("cloudformation", "create-stack", "--stack-name", name,
                   "--template-body", f"file://{template}")["StackId"]
    aws("cloudformation", "wait", "stack-create-complete", "--stack-name", name,
        expect_json=False)
    described = aws("cloudformation", "describe-stacks", "--stack-name", name)["Stacks"][0]
    assert described["StackId"] == stack_id and described["StackStatus"] == "CREATE_COMPLETE"
    assert "/000000000000/" in described["Outputs"][0]["OutputValue"]
    listed = aws("cloudformation", "describe-stack-events", "--stack-name", name)["StackEvents"]
    assert listed[0]["ResourceStatus"] == "CREATE_COMPLETE" and listed[0]["LogicalResourceId"] == name
    aws("cloudformation", "delete-stack", "--stack-name", name, expect_json=False)
    aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", stack_id,
        expect_json=False)


def test_the_specification_is_the_one_test_cfnspec_pins(cfn, unique):
    """The npm package pinned in test/cfnspec, whose specification knows
    what cfn-lint 1.x does not (PackageType)."""
    cfnspec = pathlib.Path(__file__).resolve().parents[2] / "cfnspec"
    lock = json.loads((cfnspec / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/@aws-cdk/cfnspec"]["version"] == "2.72.1"
    body = """
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Statement: []}
  F:
    Type: AWS::Lambda::Function
    Properties:
      PackageType: Zip
      Role: !GetAtt Role.Arn
      Code: {S3Bucket: nope, S3Key: nope.zip}
      Runtime: provided.al2023
      Handler: bootstrap
"""
    name = unique("spec")
    create(cfn, name, body, Capabilities=["CAPABILITY_IAM"])
    reason = [r for logical, status, r in events(cfn, name) if logical == "F"
              and status == "CREATE_FAILED"][0]
    assert "Properties validation" not in reason and "NoSuchBucket" in reason


# --- change sets and service roles ---------------------------------------------------
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets.html

CHANGING = """
Parameters:
  Value: {Type: String, Default: one}
  WithExtra: {Type: String, Default: "no"}
Conditions:
  Extra: !Equals [!Ref WithExtra, "yes"]
Resources:
  Param:
    Type: AWS::SSM::Parameter
    Properties: {Type: String, Name: !Sub "/${AWS::StackName}/p", Value: !Ref Value}
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${AWS::StackName}-${Value}"
  ExtraParam:
    Type: AWS::SSM::Parameter
    Condition: Extra
    Properties: {Type: String, Name: !Sub "/${AWS::StackName}/extra", Value: !GetAtt Queue.Arn}
"""


def changes_of(cfn, name, change_set):
    described = cfn.describe_change_set(StackName=name, ChangeSetName=change_set)
    return described, sorted(
        (c["ResourceChange"]["Action"], c["ResourceChange"]["LogicalResourceId"],
         c["ResourceChange"].get("Replacement"),
         tuple(d["Target"]["Name"] for d in c["ResourceChange"].get("Details", [])))
        for c in described["Changes"])


def test_a_change_set_tells_what_an_update_would_do_and_does_it(cfn, ssm, unique):
    name = unique("cs")
    create(cfn, name, CHANGING)
    cfn.create_change_set(StackName=name, ChangeSetName="two", TemplateBody=CHANGING,
                          Parameters=[{"ParameterKey": "Value", "ParameterValue": "two"},
                                      {"ParameterKey": "WithExtra", "ParameterValue": "yes"}])
    described, changes = changes_of(cfn, name, "two")
    assert (described["Status"], described["ExecutionStatus"]) == ("CREATE_COMPLETE", "AVAILABLE")
    # QueueName is immutable: the queue is replaced.
    assert changes == [("Add", "ExtraParam", None, ()),
                       ("Modify", "Param", "False", ("Value",)),
                       ("Modify", "Queue", "True", ("QueueName",))]
    assert ssm.get_parameter(Name=f"/{name}/p")["Parameter"]["Value"] == "one", \
        "a change set changes nothing"
    cfn.create_change_set(StackName=name, ChangeSetName="other", UsePreviousTemplate=True,
                          Parameters=[{"ParameterKey": "Value", "ParameterValue": "three"}])
    cfn.execute_change_set(StackName=name, ChangeSetName="two")
    assert settle(cfn, name)["StackStatus"] == "UPDATE_COMPLETE"
    assert ssm.get_parameter(Name=f"/{name}/p")["Parameter"]["Value"] == "two"
    assert ssm.get_parameter(Name=f"/{name}/extra")["Parameter"]["Value"].endswith(f":{name}-two")
    # Executing one deletes the stack's others (API_ExecuteChangeSet.html).
    summaries = cfn.list_change_sets(StackName=name)["Summaries"]
    assert [(s["ChangeSetName"], s["ExecutionStatus"]) for s in summaries] == \
        [("two", "EXECUTE_COMPLETE")]
    with pytest.raises(ClientError) as excinfo:
        cfn.execute_change_set(StackName=name, ChangeSetName="two")
    assert error_of(excinfo)[0] == "InvalidChangeSetStatus"
    # Removing a resource is a Remove; the same template and values fail the change set.
    cfn.create_change_set(StackName=name, ChangeSetName="fewer", UsePreviousTemplate=True,
                          Parameters=[{"ParameterKey": "Value", "UsePreviousValue": True},
                                      {"ParameterKey": "WithExtra", "ParameterValue": "no"}])
    assert changes_of(cfn, name, "fewer")[1] == [("Remove", "ExtraParam", None, ())]
    cfn.create_change_set(StackName=name, ChangeSetName="same", UsePreviousTemplate=True,
                          Parameters=[{"ParameterKey": "Value", "UsePreviousValue": True},
                                      {"ParameterKey": "WithExtra", "UsePreviousValue": True}])
    described = cfn.describe_change_set(StackName=name, ChangeSetName="same")
    assert (described["Status"], described["ExecutionStatus"]) == ("FAILED", "UNAVAILABLE")
    assert described["StatusReason"].startswith("The submitted information didn't contain changes")
    arn = described["ChangeSetId"]
    cfn.delete_change_set(ChangeSetName=arn)
    with pytest.raises(ClientError) as excinfo:
        cfn.describe_change_set(ChangeSetName=arn)
    assert error_of(excinfo)[0] == "ChangeSetNotFound"
    cfn.delete_stack(StackName=name)


def test_a_service_role_is_kept_by_the_stack(cfn, unique):
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html"""
    name = unique("role")
    role = "arn:aws:iam::000000000000:role/cfn-service"
    with pytest.raises(ClientError) as excinfo:
        cfn.create_stack(StackName=name, TemplateBody=CHANGING, RoleARN="arn:aws:iam::role-is-missing")
    assert "is invalid or cannot be assumed" in error_of(excinfo)[1]
    described = create(cfn, name, CHANGING, RoleARN=role)
    assert described["RoleARN"] == role
    cfn.update_stack(StackName=name, UsePreviousTemplate=True,
                     Parameters=[{"ParameterKey": "Value", "ParameterValue": "new"}])
    described = settle(cfn, name)
    assert described["StackStatus"] == "UPDATE_COMPLETE" and described["RoleARN"] == role
    cfn.delete_stack(StackName=name)


# --- StackSets with service-managed permissions, over Organizations --------------------
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html

PER_ACCOUNT = """
Parameters:
  Label: {Type: String}
Resources:
  Param:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Name: /stackset/where
      Value: !Sub "${Label}:${AWS::AccountId}:${AWS::Region}"
"""


@pytest.fixture
def org(client, unique):
    """The organization (one per localaws), a fresh OU under its root, and
    two new accounts in it: (organizations client, ou id, [account ids])."""
    organizations = client("organizations")
    try:
        organizations.describe_organization()
    except ClientError:
        organizations.create_organization(FeatureSet="ALL")
    root = organizations.list_roots()["Roots"][0]["Id"]
    ou = organizations.create_organizational_unit(ParentId=root, Name=unique("ou"))[
        "OrganizationalUnit"]["Id"]
    accounts = []
    for _ in range(2):
        status = organizations.create_account(Email=f"{unique('a')}@example.com",
                                              AccountName=unique("acct"))["CreateAccountStatus"]
        assert status["State"] == "SUCCEEDED"
        organizations.move_account(AccountId=status["AccountId"], SourceParentId=root,
                                   DestinationParentId=ou)
        accounts.append(status["AccountId"])
    return organizations, ou, sorted(accounts)


def in_account(client, account, service, region="us-east-1"):
    """A client acting in a member account, through the role Organizations
    makes in every account it creates."""
    credentials = client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
        RoleSessionName="test")["Credentials"]
    return client(service, region_name=region, aws_access_key_id=credentials["AccessKeyId"],
                  aws_secret_access_key=credentials["SecretAccessKey"],
                  aws_session_token=credentials["SessionToken"])


def operation_done(cfn, name, operation_id, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        operation = cfn.describe_stack_set_operation(StackSetName=name, OperationId=operation_id)[
            "StackSetOperation"]
        if operation["Status"] not in ("RUNNING", "QUEUED"):
            return operation
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_organizations_lists_units_and_accounts(org):
    organizations, ou, accounts = org
    assert organizations.describe_organization()["Organization"]["Id"].startswith("o-")
    listed = organizations.list_accounts_for_parent(ParentId=ou)["Accounts"]
    assert sorted(a["Id"] for a in listed) == accounts
    assert [c["Id"] for c in organizations.list_children(
        ParentId=ou, ChildType="ACCOUNT")["Children"]] == accounts
    root = organizations.list_roots()["Roots"][0]["Id"]
    assert ou in [u["Id"] for u in organizations.list_organizational_units_for_parent(
        ParentId=root)["OrganizationalUnits"]]


def test_a_stack_set_deploys_to_every_account_and_region_of_its_units(cfn, client, org, unique):
    organizations, ou, accounts = org
    name = unique("set")
    cfn.create_stack_set(StackSetName=name, TemplateBody=PER_ACCOUNT,
                         Parameters=[{"ParameterKey": "Label", "ParameterValue": "one"}],
                         PermissionModel="SERVICE_MANAGED",
                         AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False})
    with pytest.raises(ClientError) as excinfo:
        cfn.create_stack_set(StackSetName=name, TemplateBody=PER_ACCOUNT,
                             PermissionModel="SERVICE_MANAGED")
    assert error_of(excinfo)[0] == "NameAlreadyExistsException"
    operation = cfn.create_stack_instances(
        StackSetName=name, DeploymentTargets={"OrganizationalUnitIds": [ou]},
        Regions=["us-east-1", "eu-west-1"])["OperationId"]
    assert operation_done(cfn, name, operation)["Status"] == "SUCCEEDED"
    summaries = cfn.list_stack_instances(StackSetName=name)["Summaries"]
    assert sorted((s["Account"], s["Region"], s["Status"], s["OrganizationalUnitId"])
                  for s in summaries) == sorted(
        (a, r, "CURRENT", ou) for a in accounts for r in ("us-east-1", "eu-west-1"))
    # Each stack lives in its account and region: the same name holds four values.
    for account in accounts:
        for region in ("us-east-1", "eu-west-1"):
            ssm = in_account(client, account, "ssm", region)
            assert ssm.get_parameter(Name="/stackset/where")["Parameter"]["Value"] == \
                f"one:{account}:{region}"
    with pytest.raises(ClientError):
        client("ssm").get_parameter(Name="/stackset/where")   # not in the management account
    assert cfn.describe_stack_set(StackSetName=name)["StackSet"]["OrganizationalUnitIds"] == [ou]

    # An update reaches every instance.
    operation = cfn.update_stack_set(StackSetName=name, UsePreviousTemplate=True,
                                     Parameters=[{"ParameterKey": "Label",
                                                  "ParameterValue": "two"}])["OperationId"]
    assert operation_done(cfn, name, operation)["Status"] == "SUCCEEDED"
    ssm = in_account(client, accounts[0], "ssm", "eu-west-1")
    assert ssm.get_parameter(Name="/stackset/where")["Parameter"]["Value"] == \
        f"two:{accounts[0]}:eu-west-1"

    # A new account of the unit gets the stacks on its own (automatic deployment).
    root = organizations.list_roots()["Roots"][0]["Id"]
    joined = organizations.create_account(Email=f"{unique('n')}@example.com",
                                          AccountName="newcomer")["CreateAccountStatus"]
    organizations.move_account(AccountId=joined["AccountId"], SourceParentId=root,
                               DestinationParentId=ou)
    deadline = time.monotonic() + 30
    while {(s["Account"], s["Status"]) for s in cfn.list_stack_instances(
            StackSetName=name)["Summaries"] if s["Account"] == joined["AccountId"]} != \
            {(joined["AccountId"], "CURRENT")}:
        assert time.monotonic() < deadline, "no automatic deployment"
        time.sleep(0.1)
    ssm = in_account(client, joined["AccountId"], "ssm", "us-east-1")
    assert ssm.get_parameter(Name="/stackset/where")["Parameter"]["Value"].startswith("two:")

    # Gone: instances first, then the set.
    with pytest.raises(ClientError) as excinfo:
        cfn.delete_stack_set(StackSetName=name)
    assert error_of(excinfo)[0] == "StackSetNotEmptyException"
    deadline = time.monotonic() + 30
    while True:
        try:
            operation = cfn.delete_stack_instances(
                StackSetName=name, DeploymentTargets={"OrganizationalUnitIds": [ou]},
                Regions=["us-east-1", "eu-west-1"], RetainStacks=False)["OperationId"]
            break
        except ClientError as error:     # the automatic deployment may still be running
            assert error.response["Error"]["Code"] == "OperationInProgressException"
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert operation_done(cfn, name, operation)["Status"] == "SUCCEEDED"
    assert cfn.list_stack_instances(StackSetName=name)["Summaries"] == []
    with pytest.raises(ClientError):
        in_account(client, accounts[1], "ssm").get_parameter(Name="/stackset/where")
    cfn.delete_stack_set(StackSetName=name)
    with pytest.raises(ClientError) as excinfo:
        cfn.describe_stack_set(StackSetName=name)
    assert error_of(excinfo)[0] == "StackSetNotFoundException"
