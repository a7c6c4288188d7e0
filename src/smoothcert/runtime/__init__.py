"""What training and certification share about where they run: devices, torchrun process groups, progress bars."""
