"""Running Threatwatch as a service: Prometheus metrics, health endpoints, structured logs."""
