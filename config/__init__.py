"""Reading a run's configuration: one JSON file, then `--key value` overrides."""

from config.loading import ConfigError, RunConfig, load_config, parse_overrides

__all__ = ["ConfigError", "RunConfig", "load_config", "parse_overrides"]
