"""Pictures of takes (matplotlib): stick figures over time, before and after (docs/ARCHITECTURE.md)."""
