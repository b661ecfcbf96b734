"""systemd integration: sd_notify (notify.py), unit text (units.py) and the create command line
a `--new` unit re-runs (cmdline.py). Standard library only: the shim imports notify.py."""
