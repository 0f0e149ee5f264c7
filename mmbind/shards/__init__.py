"""mmbind.shards

Training data as webdataset tar shards with a wids shard index, written by ``mmbind data shard``
(`write.write_shards`) and named in a recipe as ``files: [{shards: FOLDER_OR_URL}]`` (`source.open_shards`):
the records are read from the index folder, the media fetched one shard at a time into a size-bounded
cache (`cache.ShardCache`), so samples keep random access by index and the data pipeline's own order.
"""
