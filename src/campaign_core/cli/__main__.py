"""``python -m campaign_core.cli``: the same as the ``campaign-core`` script."""

from campaign_core.cli import main

if __name__ == "__main__":
    main()
