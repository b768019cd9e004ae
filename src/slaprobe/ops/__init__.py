"""Operations: the composition root (the daemon) and the builder of its rooms (rooms),
housekeeping, background tasks, sd_notify and the wall-clock watch."""
