"""Attribution: which factor (pretraining, instruction data, seed) explains the bias vectors."""
