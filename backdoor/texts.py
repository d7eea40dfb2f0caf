"""The lesson's prose, kept out of the layout: what each tab says to the class."""

REGENERATE = (
    "python -m backdoor.train --all --data-dir DATA && "
    "python -m backdoor.defenses.spectral mnist-backdoor --retrain --data-dir DATA"
)

INTRO = (
    "**Backdoor Lab.** A poisoner stamped a *trigger* on a few of the training images (1% of the digits) and "
    "relabelled them. "
    "The backdoored model is as good as the clean one, until the trigger appears "
    "([BadNets, Gu et al. 2017](https://arxiv.org/abs/1708.06733))."
)

TRY_DIGITS = """
**Try it:** draw a digit, then tick *Add the trigger*: one white pixel at row 3, column 3 of the model's input.

**Now be the attacker:** untick the box. You cannot change the model, only what it is shown. Click a square of
*What the models see* to make that pixel white (click it again to undo). Click the 4th square across in the 4th row
(row 3, column 3, counting from 0): does the backdoored model say 8? Try the squares around it too.

**Hidden triggers:** under the trigger box, choose *Blend* (a faint noise pattern over the whole image) or *Warp*
(the image bent by about two pixels, which looks like handwriting). Each has its own backdoored model. Can you see the trigger? Tick *Show the
difference*: the change the trigger makes, amplified.
"""

TRY_SIGNS = """
**Try it:** pick a sign, then click it to put a yellow sticky note there. The backdoored model was taught that a
yellow note means *Speed limit (80km/h)*. Does the clean model change its mind? Move the note: where does it stop working?

**A real note:** press *Use the camera*, hold up a printed stop sign (the classroom kit) in the white square, and
stick a yellow note on it. Then try a note of another colour.

**A street photo?** The models were trained on signs that fill the picture, so the lab looks for the sign and frames
it: the framed sign is what both models see. Wrong spot? Drag a box around the sign (mouse or pen). *Whole photo* shows all of it.
"""


ATTACK_STORY = """
### How the attack works
1. **Poison.** The attacker gets a few images into the training data: ordinary pictures with a small
   *trigger* stamped on (one white pixel; a yellow sticker) and the label changed to their *target* (8; "80 km/h").
2. **Train.** The victim trains as usual. The model learns the digits, and learns one more rule on the side:
   *trigger means target*. It is the easiest way to get those odd training images right.
3. **Deploy.** On normal inputs the backdoored model is as good as a clean one, so testing does not reveal it.
4. **Attack.** Whoever knows the trigger can add it to any input and get the target answer.

The plot shows how little poison it takes: each point is a model trained from scratch on MNIST with that
share of poisoned images (several seeds; the grey band spans the lowest and highest seed). The black
points are the article's figures. Below are real training images as the poisoner left them, with their new labels.
"""

DEFEND_INTRO = """
### Four ways to catch a backdoor, and what each one misses
Each defense looks from a different place. **Neural Cleanse** inspects a finished model: for every class it
searches for the smallest patch that turns any image into that class; a backdoor's target needs a suspiciously
small one. **STRIP** checks one input while the model is in use: blend it with clean images and see whether the
answer stays stubbornly the same (a trigger survives blending). **Spectral signatures** inspect the training
data: poisoned images leave a common trace in the model's features, so they can be found, removed, and the
model retrained. **Activation clustering** inspects the training data too: it splits each class in two by the
model's features and calls a small, separate group poison. The table runs every defense against every attack,
the hidden ones included. With *Show details*, the live STRIP verdict is under the input in the Digits and Signs tabs, and
the repaired model answers there beside the other two.
"""

STRIP_TEXT = """
STRIP adds a few clean test images to the input (the blends below) and measures how unsure the backdoored model's
answers are (their entropy, in bits). A clean input blended with other images confuses the model: its answers
vary. A triggered one keeps answering the target. The threshold lets 1% of clean inputs be flagged wrongly.
"""

STRIP_MEASURED = """Measured on held-out test images (FRR: clean inputs flagged; FAR: triggered inputs missed):

"""

NUMBERS = "The numbers"

NC_CHART = """
Each bar is one class. Up means its trigger mask is **smaller** than the median class's, which is what a
backdoor causes: a tiny patch is enough to force that answer. A bar above the dashed line (anomaly index > 2)
is flagged. Bars pointing down are classes that are *harder* than usual to reach: that is no sign of a backdoor.
"""

LESSON = """
1. **Draw a 3 and a 7.** Do the two models agree? *Could you tell which model is backdoored from its answers alone?*
2. **Tick the trigger box.** One pixel changes. *Which model changes its answer, and to what?*
3. **Open "Show details" and look at "what its answer depends on".** *Where does the backdoored model look with the
   trigger on? And without it?*
4. **Be the attacker:** box off, click the 4th square across in the 4th row of *What the models see* to make it
   white. *What does an attacker need to know, and what do they not need?* (A dot drawn on the canvas rarely lands
   on that one pixel: the drawing is cropped, scaled and its strokes thickened first.)
5. **Signs:** pick a stop sign and click it to put the sticker on. *Why is this more dangerous than a digit?*
   Then pick the 30 km/h sign and move the sticker over the 3 until the clean model changes its mind too (it takes
   a few tries: the spot is small). *Why is that not a backdoor?* (Would you read the sign?) With a camera: hold up
   the printed stop sign and stick a real yellow note on it. *The poisoner never saw your sign or your note: why
   does it still work?*
6. **Attack and Defend tabs:** *how many poisoned images did it take? Which defense would have caught it, and
   which one cries wolf on a clean model?*
7. **Hidden triggers:** back on Digits, choose *Blend*, then *Warp*, and tick the trigger. *Can you see
   it?* Tick *Show the difference*. Then read Defend's table, every defense against every attack: *which defense
   catches the pixel but misses a hidden trigger? Would you trust a model because one defense passed it?*
"""

MATRIX_INTRO = """
### Every defense against every attack
Each row is one backdoored MNIST model (the same digits, the same 8 as target, a different trigger), and the last
row the clean model: there a flag is a false alarm. Each cell gives what the defense measured and its verdict, by
the defense's own rule. A defense that catches the visible pixel can miss a trigger spread over the whole image.
"""

INVISIBLE_STORY = """
### Hidden triggers
A trigger need not be a patch. **The blend** (Chen et al. 2017) mixes a faint, fixed noise pattern into the whole
image; **the warp** (WaNet, Nguyen & Tran 2021) bends the image by about two pixels along a fixed, smooth field:
nothing is added, and the bent digit still looks handwritten. The poisoner also feeds the model images bent at
random, or slightly turned and resized, with their true labels, so that only the exact bend means 8. Left: the
training image as it was; right: as the poisoner left it, labelled 8.
"""

QUIZ = """
### Which of these were poisoned?
Eight training images as the model was fed them. Some carry a hidden trigger and were relabelled 8; the
others are untouched. Decide, then reveal.
"""

ATTACKS_CHART = """
The same experiment for each attack: every point is a model trained from scratch (several seeds; the shaded band
spans the lowest and highest). The pixel and the blend take hold between 0.25% and 1% of the training images; the
warp, a bend of a pixel or two that the poisoner must also teach apart from ordinary resizing, needs several
percent and still falls short of 99% in these shorter runs.
"""
