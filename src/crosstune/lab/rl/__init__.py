"""The RL arm: GRPO (TRL) on known-answer questions with a stated confidence, and what it changes."""
