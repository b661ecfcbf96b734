"""Container networking beyond loopback: a network namespace with slirp4netns (user-mode
networking, rootless or not) and published ports."""
