"""StackSpec -> compose model, Dockerfiles, .env -> planned files -> apply (atomic, contained).

Everything but ``disk.apply`` is pure: it plans files as data from the disk's current contents.
"""
