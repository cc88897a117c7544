"""`gridledger serve`: the web app (portal, explorer, dashboards)."""

from __future__ import annotations

from typing import Annotated

import typer

from gridledger.cli.common import DataDirOpt, RpcOpt, console, data_dir_or_default, user_errors


@user_errors
def serve(
    rpc_url: RpcOpt = None,
    data_dir: DataDirOpt = None,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    env: Annotated[str, typer.Option("--env", help="dev (placeholder secrets allowed) or prod (real secrets; "
                                                   "refuses well-known privileged keys).")] = "dev",
) -> None:
    """Serve the prosumer portal, the explorer and the dashboards (embedded chain by default).

    Every setting of docs/web.md can be given as an environment variable GRIDLEDGER_<NAME>.
    """
    import uvicorn
    from pydantic import ValidationError

    from gridledger.errors import ConfigError
    from gridledger.params import check_choice, check_int
    from gridledger.web.app import create_app
    from gridledger.web.settings import Settings

    check_int("port", port, ge=1, le=65535)
    check_choice("env", env, ("dev", "prod"))
    try:
        settings = Settings(env=env, data_dir=data_dir_or_default(data_dir), rpc_url=rpc_url)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(".".join(str(p) for p in first["loc"]) or "settings", first["msg"]) from None
    import threading

    application = create_app(settings)
    gl = application.state.gl
    # The relay's EVM worker processes start meanwhile (a first eth_call need not wait for them).
    threading.Thread(target=gl.reader.start, daemon=True, name="gridledger-evm-start").start()
    console.print(f"gridledger web app on http://{host}:{port}/ ({gl.chain.backend} chain, env {settings.env})")
    try:
        uvicorn.run(application, host=host, port=port, log_level="warning", server_header=False,
                    timeout_keep_alive=5, backlog=2048)
    finally:
        gl.close()
