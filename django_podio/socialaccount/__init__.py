"""The allauth provider ``podio``, in its own package so allauth mounts only its URLs."""
