"""The steps that cross apps, driven in order: a generation request checked against its data's
licences, works taken from generated to confirmed with their royalty split and fingerprint, and
the demo. It sits above every app and below the API, portal and task entry points."""
