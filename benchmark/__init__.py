"""Section 4.3 as a harness: inpainting methods x images x masks -> metrics -> Table 1."""
