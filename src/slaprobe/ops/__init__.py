"""Operations: the composition root (the daemon), housekeeping, background tasks,
sd_notify and the wall-clock watch."""
