"""The reference apps the bench measures authql against (see bench/README.md)."""
