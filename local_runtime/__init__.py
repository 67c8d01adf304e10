"""Local emulation: a private MariaDB server and in-process stand-ins for AWS, for tests and the demo."""
