"""The Gymnasium portfolio environment, served as ``autoport.envs``."""
