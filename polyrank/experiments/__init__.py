"""One module per figure of the paper; each returns a pandas DataFrame and has a plot function.

``polyrank reproduce FIGURE`` calls ``cli_main(figure, argv)`` of ``fig2``, ``fig3_mnist`` or
``fig3c_cli`` (the command line of ``fig3c``).
"""
