# tests/golden fragment
