"""LoRA training of the code model. The only package that imports torch, transformers, peft and
wandb, so the rest of the pipeline runs without the [train] extra."""
