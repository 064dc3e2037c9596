"""localaws: a local AWS emulator (SSM, S3, STS) for ssmbak's tests.

One HTTP port serves every service; see ../README.md for the map of modules.
"""
