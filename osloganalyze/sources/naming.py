"""service.name and host.name from where a log file lives.

    /var/log/nova/nova-api.log                  -> nova-api
    /var/log/neutron/server.log                 -> neutron-server
    /var/log/kolla/neutron/neutron-server.log   -> neutron-server
    /var/log/apache2/keystone_access.log        -> keystone_access
    screen-n-api.txt.gz, devstack@c-vol.service -> nova-api, cinder-volume
    <bundle>/<host>/var/log/...                 -> host.name = <host>
"""
from __future__ import annotations

import functools
import os
import re

from ..resources import data_dir

# rotation and compression suffixes: .1 .2.gz -20240101 .2024-01-01 .1.2017-05-16_13:53:08 .txt .log
_SUFFIXES = re.compile(
    r"(?:\.(?:gz|bz2|xz|zst))?$"
)
_ROTATION = re.compile(r"(?:[.-](?:\d+|\d{8}|\d{4}-\d{2}-\d{2}(?:[_T][\d:]+)?))+$")
# what a live file's name ends with after its service's name
STEM_SUFFIXES = (".service.log.txt", ".log.txt", ".service", ".txt", ".log", ".json")
# folders whose sub-folders are components: /var/log/<component>/, /var/log/kolla/<component>/
COMPONENT_PARENTS = ("log", "logs", "kolla")
DEVSTACK_PREFIXES = ("screen-", "devstack@")


# Top-level packages of OpenStack code (a traceback frame in them is "ours", not a library's;
# a log folder named after one is an OpenStack component).
OPENSTACK_PACKAGES = (
    "nova", "neutron", "neutron_lib", "cinder", "glance", "glance_store", "keystone", "keystonemiddleware",
    "keystoneauth1", "placement", "heat", "ironic", "octavia", "manila", "swift", "horizon",
    "openstack_dashboard", "openstack_auth", "barbican", "designate", "magnum", "trove", "aodh", "ceilometer",
    "gnocchi", "masakari", "zun", "senlin", "watcher", "cloudkitty", "blazar", "mistral", "zaqar",
    "os_brick", "os_vif", "os_win", "networking_ovn", "ovsdbapp", "novaclient", "neutronclient",
    "cinderclient", "glanceclient", "keystoneclient", "openstack", "osprofiler",
)


@functools.cache
def _tables() -> dict:
    import yaml  # here, not above: a triage lists its files before anything needs YAML

    with open(data_dir("parsers") / "services.yaml", encoding="utf-8") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml when present


def _parts(path: str) -> list[str]:
    """A path's names, as PurePath(path).parts without the root (a string split: this runs for
    every file of a tree, and PurePath costs much more a call)."""
    if os.altsep:
        path = path.replace(os.altsep, os.sep)
    return [part for part in path.split(os.sep) if part and part != "."]


def base_name(filename: str) -> str:
    """The live file's name without rotation/compression suffixes: 'nova-api.log.2.gz' -> 'nova-api.log'."""
    name = _SUFFIXES.sub("", (_parts(filename) or [""])[-1])
    for _ in range(3):
        stripped = _ROTATION.sub("", name)
        if stripped == name:
            break
        name = stripped
    return name


def _stem(filename: str) -> str:
    name = base_name(filename)
    for suffix in STEM_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


@functools.lru_cache(maxsize=4096)  # called per line for grep/loghub-prefixed lines
def service_from_filename(filename: str, component: str | None = None) -> str | None:
    """Service for a file name, optionally inside the folder of ``component``."""
    stem = _stem(filename)
    devstack = _tables()["devstack"]
    for prefix in DEVSTACK_PREFIXES:
        if stem.startswith(prefix):
            short = stem[len(prefix):]
            return devstack.get(short, short)
    if not stem:
        return None
    if component and component not in _tables()["generic_dirs"] and not stem.startswith(component):
        return f"{component}-{stem}"
    return stem


@functools.lru_cache(maxsize=4096)  # called per journald line
def service_from_program(program: str) -> str:
    """Syslog/journald program or pebble service name -> service: 'wsgi-nova-api' -> 'nova-api'."""
    if program.startswith("wsgi-"):
        program = program[5:]
    if program.startswith("devstack@"):
        return service_from_filename(program) or program
    return program


def service_for_path(path: str) -> str | None:
    """Service of a file; its folder counts as the component only under log/, logs/ or kolla/."""
    parts = _parts(path)
    if not parts:
        return None
    component = None
    if len(parts) >= 3 and parts[-3] in COMPONENT_PARENTS:
        component = parts[-2]
    return service_from_filename(parts[-1], component)


def host_for_path(path: str) -> str | None:
    """The bundle folder in '<host>/var/log/...', else None."""
    parts = _parts(path)
    for i in range(1, len(parts) - 1):
        if parts[i] == "var" and parts[i + 1] == "log":
            return parts[i - 1]
    return None
