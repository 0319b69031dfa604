"""The shared model of every property: ``Property`` (a typed check with a stable id), reports, profiles."""
