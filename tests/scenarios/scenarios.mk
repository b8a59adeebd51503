# tests/scenarios fragment
