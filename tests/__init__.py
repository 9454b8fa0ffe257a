"""mimicrec tests (a package, so that tests/envs etc. never shadow the packages they test)."""
