"""gridledger: blockchain-based peer-to-peer electricity trading with AI-driven markets.

Importing the package registers its Gymnasium environments (see :mod:`gridledger.envs`).
"""

from gridledger.envs import register_envs
from gridledger.errors import ConfigError, GridledgerError

__all__ = ["ConfigError", "GridledgerError", "__version__"]
__version__ = "0.1.0"

register_envs()
