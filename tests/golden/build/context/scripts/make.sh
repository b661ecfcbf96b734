#!/bin/sh
echo "$1 from $2"
