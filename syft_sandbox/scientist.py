"""`python -m syft_sandbox.scientist`: act as a data scientist against a running sandbox.

Asks the data owner to peer (creating and sharing the channel folders, as upstream's `add_peer`
does) and submits one Python job to them, through the sandbox's Drive API with the scientist's
token file. For trying the daemon by hand: the job arrives as it would from a real client.
"""

from __future__ import annotations

from pathlib import Path

import click

from syft_monitors.google.clients import build_drive_service, load_credentials
from syft_sandbox.actors import SimulatedDataScientist


@click.command()
@click.option(
    "--api-root", required=True, help="The sandbox's API root, e.g. http://127.0.0.1:8765/"
)
@click.option(
    "--token",
    "token_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The data scientist's token file (written by the sandbox).",
)
@click.option("--owner", required=True, help="The data owner's email.")
@click.option("--job", "job_name", default="row count", show_default=True, help="Job name.")
def main(api_root: str, token_path: Path, owner: str, job_name: str) -> None:
    """Ask OWNER to peer and submit a job to them."""
    credentials = load_credentials(token_path, api_root=api_root)
    service = build_drive_service(credentials, api_root=api_root)
    email = str(service.about().get(fields="user(emailAddress)").execute()["user"]["emailAddress"])
    scientist = SimulatedDataScientist(email, service)
    scientist.request_peer(owner)
    scientist.submit_job(owner, job_name, {"main.py": "print(len(open('data.csv').readlines()))\n"})
    click.echo(f"{email} asked {owner} to peer and submitted the job {job_name!r}")
    service.close()


if __name__ == "__main__":
    main()
