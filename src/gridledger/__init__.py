"""gridledger: blockchain-based peer-to-peer electricity trading with AI-driven markets."""

from gridledger.errors import ConfigError, GridledgerError

__all__ = ["ConfigError", "GridledgerError", "__version__"]
__version__ = "0.1.0"
