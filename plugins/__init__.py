"""mmbind_plugins

mmbind's first-party plugins, installed as their own import package and registered through the same
``mmbind`` entry points a third-party package uses. They import only mmbind's public interfaces.
"""
