"""Many clients at once: no lost writes, versions numbered without gaps."""
from concurrent.futures import ThreadPoolExecutor


def test_concurrent_writers(ssm, s3, bucket, unique):
    root = "/" + unique("conc")

    def write(i):
        ssm.put_parameter(Name=f"{root}/shared", Value=str(i), Type="String", Overwrite=True)
        ssm.put_parameter(Name=f"{root}/own/{i:03d}", Value=str(i), Type="String")
        s3.put_object(Bucket=bucket, Key="shared", Body=str(i).encode())
        return i

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sorted(pool.map(write, range(80))) == list(range(80))
    pages = ssm.get_paginator("get_parameter_history").paginate(Name=f"{root}/shared")
    assert [v["Version"] for page in pages for v in page["Parameters"]] == list(range(1, 81))
    pages = ssm.get_paginator("get_parameters_by_path").paginate(Path=f"{root}/own")
    assert len([p for page in pages for p in page["Parameters"]]) == 80
    versions = s3.list_object_versions(Bucket=bucket, Prefix="shared")["Versions"]
    assert len(versions) == 80 and len({v["VersionId"] for v in versions}) == 80
    assert [v["IsLatest"] for v in versions].count(True) == 1
