"""mmbind.demo

The README's main job, runnable offline on a CPU in seconds.
"""
