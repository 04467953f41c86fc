"""End-to-end tests: a real Home Assistant and the Flatpeak sandbox as subprocesses."""
