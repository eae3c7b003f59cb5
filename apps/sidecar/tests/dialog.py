"""Token ids of the 16-token dialog format, built by hand for the tests.

`<|im_start|>` role `\\n` content `<|im_end|>`; a grid is its rows of digit tokens joined
by newline tokens. libs/arc owns the product's encoder; this copy only feeds tests.
"""

NEWLINE, USER, ASSISTANT, PAD, IM_START, IM_END = 10, 11, 12, 13, 14, 15
ALLOWED_TOKEN_IDS = list(range(11)) + [IM_END]  # digits, newline and the end token

Grid = list[list[int]]


def grid_tokens(grid: Grid) -> list[int]:
    tokens: list[int] = []
    for index, row in enumerate(grid):
        if index:
            tokens.append(NEWLINE)
        tokens.extend(row)
    return tokens


def user_turn(grid: Grid) -> list[int]:
    return [IM_START, USER, NEWLINE, *grid_tokens(grid), IM_END]


def assistant_header() -> list[int]:
    return [IM_START, ASSISTANT, NEWLINE]


def reply(grid: Grid) -> list[int]:
    """The expected completion for an output grid: its tokens and the end token."""
    return [*grid_tokens(grid), IM_END]


def training_sequence(pairs: list[tuple[Grid, Grid]]) -> tuple[list[int], list[int]]:
    """Token ids and loss mask of a dialog of pairs; only output grids and their end tokens are targets."""
    token_ids: list[int] = []
    loss_mask: list[int] = []
    for input_grid, output_grid in pairs:
        context = user_turn(input_grid) + assistant_header()
        target = reply(output_grid)
        token_ids += context + target
        loss_mask += [0] * len(context) + [1] * len(target)
    return token_ids, loss_mask


def prompt(pairs: list[tuple[Grid, Grid]], test_input: Grid) -> list[int]:
    """Demonstration pairs, the test input's user turn and the assistant header."""
    token_ids, _ = training_sequence(pairs)
    return token_ids + user_turn(test_input) + assistant_header()
