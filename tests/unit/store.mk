# tests/unit fragment
