"""The files voicectl ships beside its code: Asterisk's config templates and the scripts that
install and run it, the dialplan, the demo IVR. They are package data, found relative to this
module, so an installed voicectl (`pip install .`, the container image) reads no source tree.
"""
from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent
TEMPLATE_DIRS = (ASSETS / "asterisk" / "templates", ASSETS / "dialplan")
INSTALL_SCRIPT = ASSETS / "asterisk" / "install.sh"
RUN_SCRIPT = ASSETS / "asterisk" / "run.sh"
MAP_USER_SCRIPT = ASSETS / "asterisk" / "map-user.sh"
DEMO_IVR = ASSETS / "examples" / "demo-ivr.yaml"
