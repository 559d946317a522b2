"""Security tests: sign-in and sessions, CSRF, guessing limits, odd input, the API schema."""
