"""Tests that drive the example site in headless Chromium (marker ``browser``)."""
