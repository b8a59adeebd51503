# tests/scenarios fragment: adversarial QA scenarios
