"""CloudWatch metrics as the API reference documents them: a datapoint put
is listed and summed; bad input is refused as AWS refuses it.
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html"""
import datetime

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def cloudwatch(client):
    return client("cloudwatch")


def test_put_list_and_sum(cloudwatch, unique):
    namespace = unique("ns")
    dims = [{"Name": "FunctionName", "Value": "f"}]
    for value in (2, 3):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=[
            {"MetricName": "Repaired", "Value": value, "Unit": "Count", "Dimensions": dims}])
    listed = cloudwatch.list_metrics(Namespace=namespace)["Metrics"]
    assert listed == [{"Namespace": namespace, "MetricName": "Repaired", "Dimensions": dims}]
    now = datetime.datetime.now(datetime.timezone.utc)
    stats = cloudwatch.get_metric_statistics(
        Namespace=namespace, MetricName="Repaired", Dimensions=dims,
        StartTime=now - datetime.timedelta(hours=1), EndTime=now + datetime.timedelta(minutes=1),
        Period=7200, Statistics=["Sum", "SampleCount", "Maximum"])
    point, = stats["Datapoints"]
    assert (point["Sum"], point["SampleCount"], point["Maximum"], point["Unit"]) == \
        (5.0, 2.0, 3.0, "Count")
    # Dimensions must match exactly.
    assert cloudwatch.get_metric_statistics(
        Namespace=namespace, MetricName="Repaired", StartTime=now - datetime.timedelta(hours=1),
        EndTime=now + datetime.timedelta(minutes=1), Period=60,
        Statistics=["Sum"])["Datapoints"] == []


@pytest.mark.parametrize("namespace, datum, code", [
    ("AWS/Lambda", {"MetricName": "m", "Value": 1}, "InvalidParameterValue"),
    ("mine", {"MetricName": "m", "Value": 1, "Unit": "Apples"}, "InvalidParameterValue"),
])
def test_bad_input_is_refused(cloudwatch, namespace, datum, code):
    with pytest.raises(ClientError) as excinfo:
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=[datum])
    assert excinfo.value.response["Error"]["Code"] == code
