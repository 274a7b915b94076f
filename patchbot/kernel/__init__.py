"""Access to a real kernel tree: Debian's linux-source-6.1, extracted once into the cache."""
