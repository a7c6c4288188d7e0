"""Paper tables rebuilt from certification TSVs: the MNIST table of Jeong & Shin (2020), same-image comparisons."""
