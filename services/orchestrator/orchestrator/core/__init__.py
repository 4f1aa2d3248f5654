"""What every domain package stands on: the Redis connection, its keys, ids, the hash codec, pagination."""
