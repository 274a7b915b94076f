"""Access to real kernel trees: Debian's linux-source-6.1 and -6.12, extracted in the cache."""
