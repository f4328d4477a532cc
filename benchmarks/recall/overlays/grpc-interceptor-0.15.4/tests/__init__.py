"""Test suite for grpc-interceptor."""
